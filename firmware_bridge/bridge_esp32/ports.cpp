/* The board-independent part of the ESP32 sketch: see ports.h. */
#include "ports.h"

/* The button's pull-up on a sensor input would bias the EMG, and a press would short it. */
static_assert(BUTTON_PIN < 0 || (BUTTON_PIN != PIN_RAW && BUTTON_PIN != PIN_REF &&
                                 BUTTON_PIN != PIN_ENV && BUTTON_PIN != HAPTIC_PIN &&
                                 BUTTON_PIN != LED_PIN),
              "BUTTON_PIN is a sensor, motor or LED pin");

int16_t ring_buf[RING][N_CH];
volatile uint16_t fs_hz = DEFAULT_FS;

struct Port {
    uint8_t streaming;
    uint8_t spf;
    uint16_t seq;
    uint32_t tail;
    uint32_t overruns;
    uint32_t last_status_ms;
};
static Port ports[2];

static uint32_t boot_id;
static EmgHaptic haptic(HAPTIC_PIN);
static EmgButton button(BUTTON_PIN);
static EmgBlink led(LED_PIN);

static uint8_t rxbufs[2][48];
static emg_decoder_t decoders[2];
static uint8_t txbuf[EMG_MAX_WIRE];
static int16_t frame_samples[((EMG_MAX_BODY - 14u) / (2u * N_CH)) * N_CH];

static void send(uint8_t t, size_t n)
{
    if (n && board_connected(t)) board_write(t, txbuf, n);
}

/* Samples per frame: the batch length (25 ms on BLE, 10 ms on serial), capped by the
 * largest frame. With MTU 247 a 25-sample frame (117 bytes) is one notification. */
static uint8_t choose_spf(uint8_t t)
{
    uint32_t want = (uint32_t)fs_hz * (t == T_BLE ? BLE_BATCH_MS : SERIAL_BATCH_MS) / 1000u;
    uint32_t cap = emg_max_samples_per_frame(N_CH);
    if (want < 1) want = 1;
    if (want > cap) want = cap;
    if (want > RING / 4) want = RING / 4;
    return (uint8_t)want;
}

void send_status(uint8_t t, uint8_t reason)
{
    emg_status_t st;
    Port &p = ports[t];
    st.fw_major = FW_MAJOR;
    st.fw_minor = FW_MINOR;
    st.board = EMG_BOARD_ESP32;
    st.adc_bits = ADC_BITS;
    st.vref_mv = VREF_MV;
    st.raw_gain = RAW_GAIN;
    st.fs_hz = fs_hz;
    st.n_ch = N_CH;
    st.samples_per_frame = p.spf;
    st.flags = (uint8_t)((t == T_SERIAL ? EMG_F_USB : EMG_F_BLE) |
                         (p.streaming ? EMG_F_STREAMING : 0) | (haptic.on() ? EMG_F_BUZZING : 0) |
                         (haptic.fitted() ? EMG_F_HAPTIC : 0) |
                         (board_late() ? EMG_F_TIMING_FAULT : 0));
    st.reason = reason;
    st.boot_id = boot_id;
    st.next_sample = board_head();
    st.overruns = p.overruns;
    st.battery_mv = 0; /* not wired on the shield as far as we know */
    st.max_fs_hz = MAX_FS;
    st.channels[0] = (uint8_t)((0 << 4) | EMG_KIND_RAW);
    st.channels[1] = (uint8_t)((0 << 4) | EMG_KIND_ENV);
    send(t, emg_build_status(txbuf, sizeof txbuf, p.seq++, &st));
}

static void send_ack(uint8_t t, const emg_command_t &c, uint8_t result)
{
    send(t, emg_build_ack(txbuf, sizeof txbuf, ports[t].seq++, c.type, c.seq, result));
}

static bool rate_ok(uint16_t fs)
{
    return fs >= MIN_FS && fs <= MAX_FS && (TIMER_HZ % fs) == 0;
}

static void start_clock(uint16_t fs)
{
    fs_hz = fs;
    for (uint8_t t = 0; t < 2; t++) {
        ports[t].tail = 0;
        ports[t].spf = choose_spf(t);
    }
    board_start_clock(fs);
}

static void on_command(uint8_t t, const emg_command_t &c)
{
    Port &p = ports[t];
    switch (c.type) {
    case EMG_T_IDENTIFY:
        send_ack(t, c, EMG_R_OK);
        send_status(t, EMG_WHY_IDENTIFY);
        led.start();
        break;
    case EMG_T_START:
        p.spf = choose_spf(t);
        p.tail = board_head();
        p.streaming = 1;
        send_ack(t, c, EMG_R_OK);
        send_status(t, EMG_WHY_START);
        p.last_status_ms = (uint32_t)millis();
        break;
    case EMG_T_STOP:
        p.streaming = 0;
        send_ack(t, c, EMG_R_OK);
        send_status(t, EMG_WHY_STOP);
        break;
    case EMG_T_SET_RATE:
        if (!rate_ok(c.fs_hz)) {
            send_ack(t, c, EMG_R_BAD_ARGUMENT);
            break;
        }
        start_clock(c.fs_hz);
        send_ack(t, c, EMG_R_OK);
        send_status(t, EMG_WHY_CONFIG);
        break;
    case EMG_T_BUZZ:
        if (!haptic.fitted()) {
            send_ack(t, c, EMG_R_UNSUPPORTED);
            break;
        }
        haptic.buzz(c.duration_ms, c.strength, (uint32_t)millis());
        send_ack(t, c, EMG_R_OK);
        break;
    default:
        send_ack(t, c, EMG_R_UNKNOWN_COMMAND);
        break;
    }
}

void run_command(const Cmd &cmd)
{
    if (cmd.transport > T_BLE) return;
    if (cmd.not_a_command) send_ack(cmd.transport, cmd.c, EMG_R_UNKNOWN_COMMAND);
    else on_command(cmd.transport, cmd.c);
}

void ports_feed(uint8_t t, const uint8_t *data, size_t n, void (*emit)(const Cmd &))
{
    emg_frame_t f;
    for (size_t i = 0; i < n; i++) {
        if (emg_decoder_feed(&decoders[t], data[i], &f) != EMG_FRAME) continue;
        Cmd cmd;
        cmd.transport = t;
        cmd.not_a_command = emg_parse_command(&f, &cmd.c) != EMG_FRAME;
        if (cmd.not_a_command) {
            cmd.c.type = f.type;
            cmd.c.seq = f.seq;
        }
        emit(cmd);
    }
}

void ble_disconnected(void)
{
    ports[T_BLE].streaming = 0;
}

static void send_data(uint8_t t)
{
    Port &p = ports[t];
    uint32_t head = board_head();
    uint32_t avail = head - p.tail;
    if (avail > RING - 8u) {
        uint32_t skip = avail - RING / 2u; /* fell a ring behind: the host sees a gap */
        p.overruns += skip;
        p.tail += skip;
        avail -= skip;
    }
    if (avail < p.spf) return;
    uint32_t first = p.tail;
    size_t k = 0;
    for (uint8_t i = 0; i < p.spf; i++) {
        const int16_t *slot = ring_buf[(first + i) & (RING - 1)];
        frame_samples[k++] = slot[0];
        frame_samples[k++] = slot[1];
    }
    if (board_head() - first >= RING) {
        p.overruns += p.spf; /* overwritten while copying: dropped, reported as a gap */
        p.tail += p.spf;
        return;
    }
    p.tail += p.spf;
    send(t, emg_build_data(txbuf, sizeof txbuf, p.seq++, first, fs_hz, N_CH, p.spf,
                           frame_samples));
}

/* The wearer's answer: a debounced short (< 1 s) or long press becomes a BUTTON frame on
 * serial and, when connected, on BLE (each with its own frame counter). */
static void poll_button(uint32_t now)
{
    uint16_t held = 0;
    uint8_t press = button.poll(now, &held);
    if (press == EMG_PRESS_NONE) return;
    for (uint8_t t = 0; t < 2; t++) {
        if (!board_connected(t)) continue;
        send(t, emg_build_button(txbuf, sizeof txbuf, ports[t].seq++, press, 0, held,
                                 board_head()));
    }
}

void ports_begin(uint32_t id)
{
    boot_id = id;
    led.begin();
    haptic.begin();
    button.begin();
    for (uint8_t t = 0; t < 2; t++) {
        emg_decoder_init(&decoders[t], rxbufs[t], sizeof rxbufs[t]);
        ports[t].spf = choose_spf(t);
    }
}

void ports_start(void)
{
    start_clock(DEFAULT_FS);
}

void ports_service(uint32_t now)
{
    haptic.poll(now);
    led.poll(now);
    poll_button(now);
    for (uint8_t t = 0; t < 2; t++) {
        Port &p = ports[t];
        if (!p.streaming || !board_connected(t)) continue;
        send_data(t);
        if (now - p.last_status_ms >= STATUS_PERIOD_MS) {
            p.last_status_ms = now;
            send_status(t, EMG_WHY_PERIODIC);
        }
    }
}
