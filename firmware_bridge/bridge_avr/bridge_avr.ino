/*
 * firmware_bridge for Arduino Uno / Nano (ATmega328P, 16 MHz): MyoWare 2.0 -> USB serial.
 *
 * Samples RAW - REF (and ENV) of 1-2 MyoWare 2.0 sensors at 1 kHz (default)
 * on a Timer1 CTC interrupt, and sends them in batches as firmware_bridge
 * frames (../protocol.md) at 500000 baud. Answers IDENTIFY, START, STOP,
 * SET_RATE and BUZZ; drives a haptic motor on BUZZ. A push button on BUTTON_PIN (D2 to
 * GND, internal pull-up) answers the latest cramp alert: a short press sends a BUTTON
 * frame "not a cramp", a press held 1 s "cramp" (debounced by emg_button_update).
 *
 * Timing: the Timer1 compare ISR starts a chain of ADC conversions (RAW, REF,
 * ENV per sensor); the ADC ISR stores each result, starts the next one and,
 * after the last, writes one sample into a ring buffer. Both ISRs take a few
 * microseconds, so the UART keeps up with commands at 500 kbaud. loop() reads
 * the ring and frames batches of 10 ms. If loop() falls behind by more than
 * the ring, the oldest samples are skipped and counted (the host sees a gap:
 * every frame carries the index of its first sample).
 *
 * Do not call analogRead() in this sketch: the ADC is owned by the ISRs.
 * Timer1 is the sample clock, so the Servo library and PWM on pins 9/10 are
 * unavailable.
 *
 * Build: Arduino IDE with the sketchbook location set to firmware_bridge/, or
 * `arduino-cli compile --fqbn arduino:avr:uno --libraries firmware_bridge/libraries
 * firmware_bridge/bridge_avr`. The frame codec and the button / motor / LED code are the
 * EmgBridge library (../libraries/EmgBridge), shared with the ESP32 sketch.
 */
#include <Arduino.h>
#include <EEPROM.h>
#include <avr/interrupt.h>
#include <avr/io.h>

#include <EmgBridge.h>

/* ------------------------------------------------------------------ configuration */
#ifndef N_SENSORS
#define N_SENSORS 1          /* 1 or 2 MyoWare sensors */
#endif
#ifndef SEND_ENV
#define SEND_ENV 1           /* 1: also send each sensor's ENV output */
#endif
#ifndef BAUD
#define BAUD 500000UL        /* exact at 16 MHz with U2X (ATmega328P datasheet UBRR table) */
#endif
#ifndef DEFAULT_FS
#define DEFAULT_FS 1000u     /* Hz */
#endif
#ifndef HAPTIC_PIN
#define HAPTIC_PIN 5         /* Timer0 PWM pin; drive the motor through a transistor/driver,
                                never straight from the pin. -1 if no motor fitted. */
#endif
#ifndef BUTTON_PIN
#define BUTTON_PIN 2         /* answer button between D2 and GND (internal pull-up); -1 if none */
#endif
#define LED_PIN LED_BUILTIN

/* ADC channel (A0..A5 = 0..5) of each sensor's RAW, REF and ENV wires. */
static const uint8_t RAW_CH[2] = {0, 3};
static const uint8_t REF_CH[2] = {1, 4};
static const uint8_t ENV_CH[2] = {2, 5};

/* ------------------------------------------------------------------ constants */
#define FW_MAJOR 1
#define FW_MINOR 0
#define N_CH (N_SENSORS * (1 + SEND_ENV))
#define CONV_PER_SENSOR (2 + SEND_ENV)
#define N_CONV (N_SENSORS * CONV_PER_SENSOR)
#define RING 64u             /* samples; power of two. 64 x 4 ch x 2 B = 512 B of 2 KB RAM */
#define TIMER_HZ 2000000UL   /* Timer1 clock: 16 MHz / 8 */
#define CONV_US 104u         /* 13 ADC clocks at 16 MHz / 128 = 125 kHz (datasheet: 50-200 kHz
                                for 10-bit resolution) */
#define MIN_FS 100u
#define STATUS_PERIOD_MS 1000u
#define ADC_BITS 10
#define VREF_MV 5000         /* AVcc reference (protocols.md section 3.2) */
#define RAW_GAIN 200         /* MyoWare 2.0 RAW gain (MW-LIB, protocols.md section 3.1) */

/* ------------------------------------------------------------------ ISR state */
static volatile int16_t ring_buf[RING][N_CH];
static volatile uint32_t g_head;       /* samples taken since the clock (re)started */
static volatile uint8_t g_step;        /* conversion in progress, 1-based; 0 = idle */
static volatile uint16_t g_conv[N_CONV];
static volatile uint16_t g_late;       /* ticks that found the ADC chain still busy */
static uint8_t conv_mux[N_CONV];

ISR(TIMER1_COMPA_vect)
{
    if (g_step) {
        if (g_late < 0xFFFFu) g_late++;
        return;
    }
    g_step = 1;
    ADMUX = (uint8_t)(_BV(REFS0) | conv_mux[0]);
    ADCSRA |= _BV(ADSC);
}

ISR(ADC_vect)
{
    uint16_t v = ADC;
    uint8_t k = g_step;
    g_conv[k - 1] = v;
    if (k < N_CONV) {
        ADMUX = (uint8_t)(_BV(REFS0) | conv_mux[k]);
        g_step = (uint8_t)(k + 1);
        ADCSRA |= _BV(ADSC);
        return;
    }
    volatile int16_t *slot = ring_buf[(uint8_t)g_head & (RING - 1)];
    uint8_t c = 0;
    for (uint8_t s = 0; s < N_SENSORS; s++) {
        const uint8_t b = (uint8_t)(s * CONV_PER_SENSOR);
        slot[c++] = (int16_t)((int16_t)g_conv[b] - (int16_t)g_conv[b + 1]); /* RAW - REF */
#if SEND_ENV
        slot[c++] = (int16_t)g_conv[b + 2];                                  /* ENV */
#endif
    }
    g_head++;
    g_step = 0;
}

/* ------------------------------------------------------------------ main-loop state */
static uint16_t fs_hz = DEFAULT_FS;
static uint8_t spf = 10;               /* samples per frame: 10 ms of data */
static uint32_t tail;                  /* next sample index to send */
static uint32_t overruns;              /* samples skipped because the ring overflowed */
static uint8_t streaming;
static uint16_t tx_seq;
static uint32_t boot_id;
static uint32_t last_status_ms;
static EmgHaptic haptic(HAPTIC_PIN);
static EmgButton button(BUTTON_PIN);
static EmgBlink led(LED_PIN);

static uint8_t txbuf[EMG_MAX_WIRE];
static int16_t frame_samples[(RING / 2u) * N_CH];  /* spf <= RING / 2 */
static uint8_t rxbuf[48];              /* commands are at most 10 encoded bytes */
static emg_decoder_t rx;

static uint16_t max_fs(void)
{
    uint32_t m = 800000UL / ((uint32_t)N_CONV * CONV_US); /* chain fills <= 80 % of a period */
    return (uint16_t)(m > 4000u ? 4000u : m);
}

static uint32_t head_now(void)
{
    uint32_t h;
    uint8_t sreg = SREG;
    cli();
    h = g_head;
    SREG = sreg;
    return h;
}

static void send(size_t n)
{
    if (n) Serial.write(txbuf, n);
}

static void send_status(uint8_t reason)
{
    emg_status_t st;
    uint8_t c = 0;
    st.fw_major = FW_MAJOR;
    st.fw_minor = FW_MINOR;
    st.board = EMG_BOARD_AVR;
    st.adc_bits = ADC_BITS;
    st.vref_mv = VREF_MV;
    st.raw_gain = RAW_GAIN;
    st.fs_hz = fs_hz;
    st.n_ch = N_CH;
    st.samples_per_frame = spf;
    st.flags = (uint8_t)(EMG_F_USB | (streaming ? EMG_F_STREAMING : 0) |
                         (haptic.on() ? EMG_F_BUZZING : 0) | (haptic.fitted() ? EMG_F_HAPTIC : 0) |
                         (g_late ? EMG_F_TIMING_FAULT : 0));
    st.reason = reason;
    st.boot_id = boot_id;
    st.next_sample = head_now();
    st.overruns = overruns;
    st.battery_mv = 0;
    st.max_fs_hz = max_fs();
    for (uint8_t s = 0; s < N_SENSORS; s++) {
        st.channels[c++] = (uint8_t)((s << 4) | EMG_KIND_RAW);
#if SEND_ENV
        st.channels[c++] = (uint8_t)((s << 4) | EMG_KIND_ENV);
#endif
    }
    send(emg_build_status(txbuf, sizeof txbuf, tx_seq++, &st));
}

static void send_ack(const emg_command_t *c, uint8_t result)
{
    send(emg_build_ack(txbuf, sizeof txbuf, tx_seq++, c->type, c->seq, result));
}

static uint8_t rate_ok(uint16_t fs)
{
    return fs >= MIN_FS && fs <= max_fs() && (TIMER_HZ % fs) == 0;
}

/* (Re)start the sample clock at fs; the sample counter restarts at 0. */
static void start_clock(uint16_t fs)
{
    uint8_t s;
    uint16_t per_frame = (uint16_t)(fs / 100u);
    uint8_t cap = emg_max_samples_per_frame(N_CH);
    TIMSK1 = 0;
    while (g_step) { /* let a running conversion chain finish */ }
    fs_hz = fs;
    spf = (uint8_t)(per_frame < 1 ? 1 : (per_frame > cap ? cap : per_frame));
    if (spf > RING / 2) spf = RING / 2;
    for (s = 0; s < N_SENSORS; s++) {
        conv_mux[s * CONV_PER_SENSOR] = RAW_CH[s];
        conv_mux[s * CONV_PER_SENSOR + 1] = REF_CH[s];
#if SEND_ENV
        conv_mux[s * CONV_PER_SENSOR + 2] = ENV_CH[s];
#endif
    }
    cli();
    g_head = 0;
    g_late = 0;
    tail = 0;
    TCCR1A = 0;
    TCCR1B = _BV(WGM12) | _BV(CS11);             /* CTC on OCR1A, clk/8 = 2 MHz */
    OCR1A = (uint16_t)(TIMER_HZ / fs - 1u);
    TCNT1 = 0;
    TIFR1 = _BV(OCF1A);
    TIMSK1 = _BV(OCIE1A);
    sei();
}

static void on_command(const emg_command_t *c)
{
    switch (c->type) {
    case EMG_T_IDENTIFY:
        send_ack(c, EMG_R_OK);
        send_status(EMG_WHY_IDENTIFY);
        led.start(); /* blink to show which board answered */
        break;
    case EMG_T_START:
        tail = head_now(); /* data starts now */
        streaming = 1;
        send_ack(c, EMG_R_OK);
        send_status(EMG_WHY_START);
        last_status_ms = millis();
        break;
    case EMG_T_STOP:
        streaming = 0;
        send_ack(c, EMG_R_OK);
        send_status(EMG_WHY_STOP);
        break;
    case EMG_T_SET_RATE:
        if (!rate_ok(c->fs_hz)) {
            send_ack(c, EMG_R_BAD_ARGUMENT);
            break;
        }
        start_clock(c->fs_hz);
        send_ack(c, EMG_R_OK);
        send_status(EMG_WHY_CONFIG);
        break;
    case EMG_T_BUZZ:
        if (!haptic.fitted()) {
            send_ack(c, EMG_R_UNSUPPORTED);
            break;
        }
        haptic.buzz(c->duration_ms, c->strength, millis());
        send_ack(c, EMG_R_OK);
        break;
    default:
        send_ack(c, EMG_R_UNKNOWN_COMMAND);
        break;
    }
}

static void poll_commands(void)
{
    emg_frame_t f;
    emg_command_t c;
    while (Serial.available() > 0) {
        int r = emg_decoder_feed(&rx, (uint8_t)Serial.read(), &f);
        if (r != EMG_FRAME) continue;
        if (emg_parse_command(&f, &c) == EMG_FRAME) {
            on_command(&c);
        } else {
            c.type = f.type;
            c.seq = f.seq;
            send_ack(&c, EMG_R_UNKNOWN_COMMAND);
        }
    }
}

static void send_data(void)
{
    uint32_t head = head_now();
    uint32_t avail = head - tail;
    if (avail > RING - 4u) {
        /* loop() fell a ring behind: skip to the newest half ring; the host sees a gap */
        uint32_t skip = avail - RING / 2u;
        overruns += skip;
        tail += skip;
        avail -= skip;
    }
    if (avail < spf) return;
    uint32_t first = tail;
    uint16_t k = 0;
    for (uint8_t i = 0; i < spf; i++) {
        volatile int16_t *slot = ring_buf[(uint8_t)(first + i) & (RING - 1)];
        for (uint8_t c = 0; c < N_CH; c++) frame_samples[k++] = slot[c];
    }
    if (head_now() - first >= RING) {
        /* overwritten while copying: drop these samples (reported as a gap) */
        overruns += spf;
        tail += spf;
        return;
    }
    tail += spf;
    send(emg_build_data(txbuf, sizeof txbuf, tx_seq++, first, fs_hz, N_CH, spf, frame_samples));
}

/* The wearer's answer: a debounced short (< 1 s) or long (>= 1 s) press, sent at once. */
static void poll_button(uint32_t now)
{
    uint16_t held = 0;
    uint8_t press = button.poll(now, &held);
    if (press != EMG_PRESS_NONE) {
        send(emg_build_button(txbuf, sizeof txbuf, tx_seq++, press, 0, held, head_now()));
    }
}

static uint32_t next_boot_id(void)
{
    /* A per-boot counter in EEPROM bytes 0..3 (magic in 4..5): unique across reboots, so the
       host can tell a reboot from a link loss. ~100k boots of EEPROM endurance. */
    uint32_t id = 0;
    uint16_t magic = 0;
    EEPROM.get(4, magic);
    if (magic == 0xB51Du) EEPROM.get(0, id);
    id++;
    EEPROM.put(0, id);
    EEPROM.put(4, (uint16_t)0xB51Du);
    return id;
}

void setup()
{
    Serial.begin(BAUD);
    led.begin();
    haptic.begin();
    button.begin();
    emg_decoder_init(&rx, rxbuf, sizeof rxbuf);
    boot_id = next_boot_id();
    /* ADC: AVcc reference, interrupt on completion, clk/128 (125 kHz). */
    ADMUX = _BV(REFS0);
    ADCSRA = _BV(ADEN) | _BV(ADIE) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0);
    for (uint8_t s = 0; s < N_SENSORS; s++) {
        DIDR0 |= (uint8_t)(_BV(RAW_CH[s]) | _BV(REF_CH[s]) | _BV(ENV_CH[s])); /* less noise */
    }
    start_clock(DEFAULT_FS);
    send_status(EMG_WHY_BOOT);
}

void loop()
{
    uint32_t now = millis();
    poll_commands();
    haptic.poll(now);
    led.poll(now);
    poll_button(now);
    if (!streaming) return;
    send_data();
    if (now - last_status_ms >= STATUS_PERIOD_MS) {
        last_status_ms = now;
        send_status(EMG_WHY_PERIODIC);
    }
}
