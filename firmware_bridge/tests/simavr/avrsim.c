/*
 * avrsim: runs the Uno firmware (bridge_avr, an ATmega328P ELF) in simavr, with
 *
 *   - the ADC inputs A0-A5 fed from a file of millivolts, one row per 1/fs of simulated
 *     time (the MyoWare's RAW, REF and ENV outputs as the sketch's pin table wires them);
 *   - UART0 connected to a pseudo-terminal (symlinked to --link), so `emgpipe live --source
 *     bridge:<link>` talks to the firmware as to a board on USB; every byte the firmware
 *     sends is also written to --capture;
 *   - the answer button on D2 (pulled up; pressed = driven low) pressed at given times;
 *   - the haptic motor pin D5 watched: "buzz on" when the firmware drives it (PWM on OC0B
 *     or a plain high output), "buzz off" when it stops.
 *
 * Simulated time follows the AVR's cycle counter (16 MHz). With --speed X the simulation is
 * held to at most X times real time (1 = a real board's pace), so the host sees bytes at
 * the rate a board sends them.
 *
 * Usage:
 *   avrsim --elf FW.elf --adc IN.u16 [--fs 1000] --link PATH [--capture FILE]
 *          [--speed 1] [--duration S] [--press MS:HELD_MS]... [--from-start]
 *
 * IN.u16: little-endian uint16, 6 values (mV on A0..A5) per row. After its last row the
 * inputs stay at its last values. --press MS:HELD_MS holds the button down HELD_MS from
 * MS. With --from-start, the rows (row 0 held until then) and the press times start when
 * the host sends its first START, so the recording's times are the stream's times.
 *
 * stdout, one line each, flushed (t = simulated seconds since reset):
 *   pty PATH                        the pseudo-terminal is ready
 *   t=T cmd TYPE SEQ ARG16 ARG8     a command frame the host sent (decoded with the
 *                                   EmgBridge codec; ARG16 = fs or ms, ARG8 = strength)
 *   t=T buzz on DUTY | t=T buzz off the motor pin
 *   t=T button down | t=T button up
 *   t=T end cycles=N tx=BYTES rx=BYTES dropped=BYTES wall=S
 *
 * Build (Debian packages simavr libsimavr-dev):
 *   gcc -O2 -I/usr/include/simavr -I../../libraries/EmgBridge/src avrsim.c \
 *       ../../libraries/EmgBridge/src/emgframe.c -lsimavr -lutil -o avrsim
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_irq.h>
#include <sim_io.h>
#include <sim_cycle_timers.h>
#include <avr_adc.h>
#include <avr_ioport.h>
#include <avr_uart.h>

#include "emgframe.h"

#define F_CPU 16000000UL
#define N_ADC 6
#define MAX_PRESSES 16
#define OUTBUF (1u << 20)          /* bytes waiting for the pty; more are dropped */
#define WATCH_US 100               /* motor pin sampled every 100 us */

/* ATmega328P data-space addresses (datasheet, register summary: I/O address + 0x20). */
#define A_DDRD 0x2A
#define A_PORTD 0x2B
#define A_TCCR0A 0x44
#define A_OCR0B 0x48
#define COM0B1 5
#define HAPTIC_BIT 5               /* D5 = PD5 = OC0B */
#define BUTTON_BIT 2               /* D2 = PD2 */

static avr_t *avr;
static volatile sig_atomic_t stop_flag;

static uint16_t *adc_rows;
static size_t adc_n;
static size_t adc_i;
static uint32_t adc_period;        /* cycles per row */
static avr_irq_t *adc_irq[N_ADC];

static int pty_master = -1, pty_slave = -1;
static char pty_name[256];
static FILE *capture;
static uint8_t *outbuf;
static size_t out_head, out_len;
static unsigned long tx_bytes, rx_bytes, dropped;

static uint8_t inbuf[4096];
static size_t in_head, in_len;
static int uart_xoff;
static avr_irq_t *uart_in;

static uint8_t cmdbuf[64];
static emg_decoder_t cmd_dec;

static struct { uint32_t at_ms, held_ms; int down, done; } presses[MAX_PRESSES];
static int n_presses;
static avr_irq_t *button_irq;
static int buzz_on;
static int from_start;
static double t_start = -1;  /* simulated s of the host's first START */

static double sim_s(void)
{
    return (double)avr->cycle / (double)F_CPU;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* ---------------------------------------------------------------- ADC */
static avr_cycle_count_t adc_tick(avr_t *a, avr_cycle_count_t when, void *param)
{
    (void)a;
    (void)param;
    if (adc_i < adc_n) {
        const uint16_t *row = adc_rows + adc_i * N_ADC;
        for (int c = 0; c < N_ADC; c++) avr_raise_irq(adc_irq[c], row[c]);
        if (!from_start || t_start >= 0) adc_i++;
    }
    return when + adc_period;
}

/* ---------------------------------------------------------------- UART */
static void uart_out(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    uint8_t b = (uint8_t)value;
    tx_bytes++;
    if (capture) fputc(b, capture);
    if (out_len >= OUTBUF) {
        dropped++;
        return;
    }
    outbuf[(out_head + out_len) % OUTBUF] = b;
    out_len++;
}

static void feed_uart(void)
{
    while (!uart_xoff && in_len) {
        uint8_t b = inbuf[in_head];
        in_head = (in_head + 1) % sizeof inbuf;
        in_len--;
        rx_bytes++;
        emg_frame_t f;
        emg_command_t c;
        if (emg_decoder_feed(&cmd_dec, b, &f) == EMG_FRAME && emg_parse_command(&f, &c) == EMG_FRAME) {
            unsigned arg16 = c.type == EMG_T_SET_RATE ? c.fs_hz : c.duration_ms;
            if (c.type == EMG_T_START && t_start < 0) t_start = sim_s();
            printf("t=%.6f cmd 0x%02x %u %u %u\n", sim_s(), c.type, c.seq, arg16, c.strength);
            fflush(stdout);
        }
        avr_raise_irq(uart_in, b);
    }
}

static void uart_xon_cb(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)value;
    (void)param;
    uart_xoff = 0;
    feed_uart();
}

static void uart_xoff_cb(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)value;
    (void)param;
    uart_xoff = 1;
}

static void open_pty(const char *link)
{
    struct termios tio;
    if (openpty(&pty_master, &pty_slave, pty_name, NULL, NULL) != 0) {
        perror("avrsim: openpty");
        exit(1);
    }
    /* raw: no echo of the host's bytes back to it, no line discipline */
    tcgetattr(pty_slave, &tio);
    cfmakeraw(&tio);
    tcsetattr(pty_slave, TCSANOW, &tio);
    fcntl(pty_master, F_SETFL, fcntl(pty_master, F_GETFL) | O_NONBLOCK);
    /* pty_slave stays open: the master never sees EIO when the host closes and reopens */
    unlink(link);
    if (symlink(pty_name, link) != 0) {
        perror("avrsim: symlink");
        exit(1);
    }
}

static void service_pty(void)
{
    uint8_t buf[1024];
    for (;;) {
        size_t room = sizeof inbuf - in_len;
        if (!room) break;
        ssize_t n = read(pty_master, buf, room < sizeof buf ? room : sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) inbuf[(in_head + in_len + (size_t)i) % sizeof inbuf] = buf[i];
        in_len += (size_t)n;
    }
    feed_uart();
    while (out_len) {
        size_t chunk = out_len;
        if (out_head + chunk > OUTBUF) chunk = OUTBUF - out_head;
        ssize_t n = write(pty_master, outbuf + out_head, chunk);
        if (n <= 0) break;                    /* the pty is full: try again later */
        out_head = (out_head + (size_t)n) % OUTBUF;
        out_len -= (size_t)n;
    }
}

/* ---------------------------------------------------------------- pins */
/* The button to GND: while pressed it holds D2 low whatever the firmware writes to PORTD.
 * Raising the pin's IRQ alone is not enough: simavr (1.6) re-raises every input pin whose
 * PORT bit is set (the internal pull-up) at each PORTD write, so a press would read as
 * released as soon as the firmware touched another pin of port D (the motor on D5 going
 * off, say), and a long press would arrive as a short one. The port's "external" level is
 * what it applies instead, so the press is set there too. */
static void set_button(int pressed)
{
    avr_ioport_external_t ext = { .name = 'D', .mask = 1u << BUTTON_BIT, .value = pressed ? 0 : 1u << BUTTON_BIT };
    avr_ioctl(avr, AVR_IOCTL_IOPORT_SET_EXTERNAL('D'), &ext);
    avr_raise_irq(button_irq, pressed ? 0 : 1);
}

static avr_cycle_count_t watch_tick(avr_t *a, avr_cycle_count_t when, void *param)
{
    (void)param;
    uint8_t ddr = a->data[A_DDRD], port = a->data[A_PORTD];
    uint8_t tccr = a->data[A_TCCR0A], ocr = a->data[A_OCR0B];
    int pwm = (tccr >> COM0B1) & 1;
    int duty = !(ddr & (1u << HAPTIC_BIT)) ? 0 : pwm ? ocr : ((port >> HAPTIC_BIT) & 1) ? 255 : 0;
    if ((duty > 0) != buzz_on) {
        buzz_on = duty > 0;
        if (buzz_on) printf("t=%.6f buzz on %d\n", sim_s(), duty);
        else printf("t=%.6f buzz off\n", sim_s());
        fflush(stdout);
    }
    if (from_start && t_start < 0) return when + (avr_cycle_count_t)(F_CPU / 1000000UL * WATCH_US);
    double ms = (sim_s() - (from_start ? t_start : 0.0)) * 1000.0;
    for (int i = 0; i < n_presses; i++) {
        if (!presses[i].down && !presses[i].done && ms >= presses[i].at_ms) {
            presses[i].down = 1;
            set_button(1);
            printf("t=%.6f button down\n", sim_s());
            fflush(stdout);
        } else if (presses[i].down && !presses[i].done && ms >= presses[i].at_ms + presses[i].held_ms) {
            presses[i].done = 1;
            set_button(0);
            printf("t=%.6f button up\n", sim_s());
            fflush(stdout);
        }
    }
    return when + (avr_cycle_count_t)(F_CPU / 1000000UL * WATCH_US);
}

/* ---------------------------------------------------------------- main */
static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(void)
{
    fprintf(stderr, "usage: avrsim --elf FW.elf --adc IN.u16 [--fs HZ] --link PATH [--capture FILE] "
                    "[--speed X] [--duration S] [--press MS:HELD_MS]... [--from-start]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *elf = NULL, *adc = NULL, *link = NULL, *cap = NULL;
    double fs = 1000, speed = 1, duration = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--from-start")) {
            from_start = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--elf")) elf = v;
        else if (!strcmp(a, "--adc")) adc = v;
        else if (!strcmp(a, "--fs")) fs = atof(v);
        else if (!strcmp(a, "--link")) link = v;
        else if (!strcmp(a, "--capture")) cap = v;
        else if (!strcmp(a, "--speed")) speed = atof(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--press")) {
            unsigned at, held;
            if (n_presses >= MAX_PRESSES || sscanf(v, "%u:%u", &at, &held) != 2) usage();
            presses[n_presses].at_ms = at;
            presses[n_presses].held_ms = held;
            n_presses++;
        } else usage();
        i++;
    }
    if (!elf || !adc || !link || fs <= 0) usage();

    FILE *fa = fopen(adc, "rb");
    if (!fa) {
        perror(adc);
        return 1;
    }
    fseek(fa, 0, SEEK_END);
    long size = ftell(fa);
    fseek(fa, 0, SEEK_SET);
    adc_n = (size_t)size / (N_ADC * 2);
    adc_rows = malloc(adc_n * N_ADC * 2 + 1);
    if (fread(adc_rows, 2, adc_n * N_ADC, fa) != adc_n * N_ADC) {
        fprintf(stderr, "avrsim: short read of %s\n", adc);
        return 1;
    }
    fclose(fa);
    adc_period = (uint32_t)((double)F_CPU / fs + 0.5);

    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(elf, &fw) != 0) {
        fprintf(stderr, "avrsim: cannot read %s\n", elf);
        return 1;
    }
    avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) {
        fprintf(stderr, "avrsim: simavr has no atmega328p\n");
        return 1;
    }
    avr_init(avr);
    avr_load_firmware(avr, &fw);
    avr->frequency = F_CPU;
    avr->vcc = avr->avcc = avr->aref = 5000;      /* AVcc reference: 5 V on an Uno */
    avr->log = LOG_ERROR;

    uint32_t flags = 0;
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~(uint32_t)(AVR_UART_FLAG_STDIO | AVR_UART_FLAG_POLL_SLEEP);
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_out, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), uart_xon_cb, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), uart_xoff_cb, NULL);
    uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    emg_decoder_init(&cmd_dec, cmdbuf, sizeof cmdbuf);

    for (int c = 0; c < N_ADC; c++) adc_irq[c] = avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + c);
    adc_tick(avr, 0, NULL);                      /* row 0 before the first conversion */
    avr_cycle_timer_register(avr, adc_period, adc_tick, NULL);

    button_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), BUTTON_BIT);
    set_button(0);                               /* released: the pull-up holds it high */
    avr_cycle_timer_register(avr, F_CPU / 1000000UL * WATCH_US, watch_tick, NULL);

    outbuf = malloc(OUTBUF);
    if (cap && !(capture = fopen(cap, "wb"))) {
        perror(cap);
        return 1;
    }
    open_pty(link);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("pty %s\n", pty_name);
    fflush(stdout);

    double wall0 = wall_now();
    int state = cpu_Running;
    while (!stop_flag && state != cpu_Done && state != cpu_Crashed) {
        for (int k = 0; k < 20000 && state != cpu_Done && state != cpu_Crashed; k++) state = avr_run(avr);
        service_pty();
        if (duration > 0 && sim_s() >= duration) break;
        if (speed > 0) {
            double ahead = sim_s() / speed - (wall_now() - wall0);
            if (ahead > 0.002) usleep((useconds_t)(ahead * 1e6));
        }
    }
    for (int i = 0; i < 50 && out_len; i++) {   /* let the host read what is left */
        service_pty();
        usleep(2000);
    }
    printf("t=%.6f end cycles=%llu tx=%lu rx=%lu dropped=%lu wall=%.3f state=%d\n", sim_s(),
           (unsigned long long)avr->cycle, tx_bytes, rx_bytes, dropped, wall_now() - wall0, state);
    fflush(stdout);
    if (capture) fclose(capture);
    unlink(link);
    return state == cpu_Crashed ? 3 : 0;
}
