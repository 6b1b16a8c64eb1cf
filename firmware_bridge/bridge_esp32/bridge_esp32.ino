/*
 * firmware_bridge for the MyoWare 2.0 Wireless Shield (ESP32-WROOM, board "ESP32 Dev Module"):
 * MyoWare 2.0 -> BLE notifications and USB serial.
 *
 * Samples RAW - REF and ENV of the one sensor the shield carries (A4 = RAW, A5 = REF,
 * A3 = ENV; MW-LIB MyoWare.h, protocols.md section 3.2) at 1 kHz (default) and sends the
 * same firmware_bridge frames as the AVR sketch (../protocol.md):
 *   - over BLE: one frame per notification on our own service
 *     (d7528d6b-9e4a-4c66-bb1e-3d30e35a1633), batches of 25 ms; a frame longer than the
 *     negotiated MTU - 3 is split over consecutive notifications;
 *   - over USB serial at 500000 baud: batches of 10 ms.
 * A push button on BUTTON_PIN (to GND, internal pull-up) answers the latest cramp
 * alert: a short press sends BUTTON "not a cramp", a press held 1 s "cramp" (debounced
 * by emg_button_update in the shared codec), on every transport with a host.
 * Each transport has its own START/STOP state, frame counter and read position in one
 * sample ring, so a host on each may stream at once.
 *
 * Timing: a hardware timer interrupt (arduino-esp32 3.x timer API) notifies a
 * high-priority sampling task, which reads RAW, REF, ENV with analogRead and writes one
 * sample into the ring. Missed ticks are still counted as samples (the sample counter
 * follows the clock) and raise the TIMING_FAULT status flag. The counter keeps running
 * while no host is connected, so after a BLE drop the host sees an exact gap.
 *
 * Requires arduino-esp32 core 3.x (timerBegin(frequency) API) and its built-in BLE library.
 * The frame codec is src/emgframe.{h,c}, a copy of ../src/ kept in sync by
 * ../tools/sync_core.py.
 *
 * NOT COMPILED in this repository's CI (no ESP32 toolchain there); the AVR sketch and the
 * shared codec are.
 */
#include <Arduino.h>
#include <BLEDevice.h>
#include <BLEServer.h>
#include <BLEUtils.h>
#include <BLE2902.h>
#include <esp_mac.h>
#include <esp_random.h>

#include "src/emgframe.h"

/* ------------------------------------------------------------------ configuration */
#define PIN_ENV A3
#define PIN_RAW A4
#define PIN_REF A5
#define HAPTIC_PIN 25        /* motor driver input (through a transistor); -1 if none */
#ifndef BUTTON_PIN
#define BUTTON_PIN 32        /* answer button to GND (internal pull-up); -1 if none.
                                Not 34-39: those inputs have no pull-up. */
#endif
#define LED_PIN 2
#define BAUD 500000UL
#define DEFAULT_FS 1000u
#define BLE_BATCH_MS 25u     /* protocols.md section 4.1: ~40 notifications/s */
#define SERIAL_BATCH_MS 10u

#define SERVICE_UUID "d7528d6b-9e4a-4c66-bb1e-3d30e35a1633"
#define DATA_UUID    "d7528d6c-9e4a-4c66-bb1e-3d30e35a1633"
#define CMD_UUID     "d7528d6d-9e4a-4c66-bb1e-3d30e35a1633"

/* ------------------------------------------------------------------ constants */
#define FW_MAJOR 1
#define FW_MINOR 0
#define N_CH 2               /* RAW - REF, ENV */
#define RING 512u            /* samples (0.5 s at 1 kHz), power of two */
#define TIMER_HZ 1000000UL   /* 1 MHz timer tick */
#define MIN_FS 100u
#define MAX_FS 2000u         /* 3 one-shot reads of ~10-80 us each [UNVERIFIED]: keep margin */
#define MAX_BUZZ_MS 5000u
#define STATUS_PERIOD_MS 1000u
#define ADC_BITS 12          /* ESP32 ADC, 3.3 V reference as MW-LIB assumes */
#define VREF_MV 3300
#define RAW_GAIN 200

/* ------------------------------------------------------------------ sampling */
static int16_t ring_buf[RING][N_CH];
static volatile uint32_t g_head;     /* samples taken since the clock (re)started */
static volatile uint32_t g_late;     /* ticks the sampling task handled late */
static portMUX_TYPE ring_mux = portMUX_INITIALIZER_UNLOCKED;
static hw_timer_t *timer;
static TaskHandle_t sampler_task;
static volatile uint16_t fs_hz = DEFAULT_FS;

static void IRAM_ATTR on_tick()
{
    BaseType_t woke = pdFALSE;
    vTaskNotifyGiveFromISR(sampler_task, &woke);
    portYIELD_FROM_ISR(woke);
}

static void sampler(void *)
{
    for (;;) {
        uint32_t ticks = ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
        if (ticks > 1) g_late += ticks - 1;
        while (ticks--) {
            int raw = analogRead(PIN_RAW);
            int ref = analogRead(PIN_REF);
            int env = analogRead(PIN_ENV);
            portENTER_CRITICAL(&ring_mux);
            int16_t *slot = ring_buf[g_head & (RING - 1)];
            slot[0] = (int16_t)(raw - ref);
            slot[1] = (int16_t)env;
            g_head++;
            portEXIT_CRITICAL(&ring_mux);
        }
    }
}

static uint32_t head_now()
{
    portENTER_CRITICAL(&ring_mux);
    uint32_t h = g_head;
    portEXIT_CRITICAL(&ring_mux);
    return h;
}

/* ------------------------------------------------------------------ transports */
enum { T_SERIAL = 0, T_BLE = 1 };

struct Port {
    uint8_t streaming;
    uint8_t spf;
    uint16_t seq;
    uint32_t tail;
    uint32_t overruns;
    uint32_t last_status_ms;
};
static Port ports[2];

static BLEServer *server;
static BLECharacteristic *data_char;
static volatile bool ble_connected;
static uint32_t boot_id;
static uint32_t buzz_until;
static bool buzzing;
static uint8_t led_blinks;
static uint32_t led_next_ms;

struct Cmd {
    uint8_t transport;
    emg_command_t c;
    uint8_t not_a_command;
};
static QueueHandle_t cmd_queue;

static uint8_t serial_rxbuf[48];
static emg_decoder_t serial_rx;
static uint8_t ble_rxbuf[48];
static emg_decoder_t ble_rx;
static uint8_t txbuf[EMG_MAX_WIRE];
static int16_t frame_samples[((EMG_MAX_BODY - 14u) / (2u * N_CH)) * N_CH];

static uint16_t peer_mtu()
{
    uint16_t mtu = server ? server->getPeerMTU(server->getConnId()) : 23;
    return mtu < 23 ? 23 : mtu;
}

/* One frame per notification; a frame longer than MTU - 3 bytes (ATT payload) goes out in
 * consecutive notifications, which the host joins as one byte stream (protocol.md, BLE). */
static void send(uint8_t t, size_t n)
{
    if (!n) return;
    if (t == T_SERIAL) {
        Serial.write(txbuf, n);
    } else if (ble_connected) {
        size_t room = (size_t)peer_mtu() - 3u;
        for (size_t off = 0; off < n; off += room) {
            size_t len = n - off < room ? n - off : room;
            data_char->setValue(txbuf + off, len);
            data_char->notify();
        }
    }
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

static void send_status(uint8_t t, uint8_t reason)
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
                         (p.streaming ? EMG_F_STREAMING : 0) | (buzzing ? EMG_F_BUZZING : 0) |
                         (HAPTIC_PIN >= 0 ? EMG_F_HAPTIC : 0) | (g_late ? EMG_F_TIMING_FAULT : 0));
    st.reason = reason;
    st.boot_id = boot_id;
    st.next_sample = head_now();
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
    if (timer) {
        timerStop(timer);
    }
    portENTER_CRITICAL(&ring_mux);
    g_head = 0;
    g_late = 0;
    portEXIT_CRITICAL(&ring_mux);
    fs_hz = fs;
    for (uint8_t t = 0; t < 2; t++) {
        ports[t].tail = 0;
        ports[t].spf = choose_spf(t);
    }
    if (!timer) {
        timer = timerBegin(TIMER_HZ);
        timerAttachInterrupt(timer, &on_tick);
    }
    timerWrite(timer, 0);
    timerAlarm(timer, TIMER_HZ / fs, true, 0);
    timerStart(timer);
}

static void buzz(uint16_t ms, uint8_t strength)
{
#if HAPTIC_PIN >= 0
    if (ms > MAX_BUZZ_MS) ms = MAX_BUZZ_MS;
    if (ms == 0 || strength == 0) {
        analogWrite(HAPTIC_PIN, 0);
        buzzing = false;
        return;
    }
    analogWrite(HAPTIC_PIN, strength);
    buzz_until = millis() + ms;
    buzzing = true;
#else
    (void)ms;
    (void)strength;
#endif
}

static void on_command(uint8_t t, const emg_command_t &c)
{
    Port &p = ports[t];
    switch (c.type) {
    case EMG_T_IDENTIFY:
        send_ack(t, c, EMG_R_OK);
        send_status(t, EMG_WHY_IDENTIFY);
        led_blinks = 6;
        break;
    case EMG_T_START:
        p.spf = choose_spf(t);
        p.tail = head_now();
        p.streaming = 1;
        send_ack(t, c, EMG_R_OK);
        send_status(t, EMG_WHY_START);
        p.last_status_ms = millis();
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
        if (HAPTIC_PIN < 0) {
            send_ack(t, c, EMG_R_UNSUPPORTED);
            break;
        }
        buzz(c.duration_ms, c.strength);
        send_ack(t, c, EMG_R_OK);
        break;
    default:
        send_ack(t, c, EMG_R_UNKNOWN_COMMAND);
        break;
    }
}

/* Decode bytes of one transport; complete commands go to the queue (loop() runs them). */
static void feed(uint8_t t, emg_decoder_t *dec, const uint8_t *data, size_t n)
{
    emg_frame_t f;
    for (size_t i = 0; i < n; i++) {
        if (emg_decoder_feed(dec, data[i], &f) != EMG_FRAME) continue;
        Cmd cmd;
        cmd.transport = t;
        cmd.not_a_command = emg_parse_command(&f, &cmd.c) != EMG_FRAME;
        if (cmd.not_a_command) {
            cmd.c.type = f.type;
            cmd.c.seq = f.seq;
        }
        xQueueSend(cmd_queue, &cmd, 0);
    }
}

class ServerCallbacks : public BLEServerCallbacks {
    void onConnect(BLEServer *) override { ble_connected = true; }
    void onDisconnect(BLEServer *) override
    {
        ble_connected = false;
        ports[T_BLE].streaming = 0; /* the host restarts streaming after reconnecting */
        BLEDevice::startAdvertising();
    }
};

class CmdCallbacks : public BLECharacteristicCallbacks {
    void onWrite(BLECharacteristic *ch) override
    {
        feed(T_BLE, &ble_rx, ch->getData(), ch->getLength());
    }
};

static void send_data(uint8_t t)
{
    Port &p = ports[t];
    uint32_t head = head_now();
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
    if (head_now() - first >= RING) {
        p.overruns += p.spf;
        p.tail += p.spf;
        return;
    }
    p.tail += p.spf;
    send(t, emg_build_data(txbuf, sizeof txbuf, p.seq++, first, fs_hz, N_CH, p.spf,
                           frame_samples));
}

#if BUTTON_PIN >= 0
static emg_button_t button;

/* The wearer's answer: a debounced short (< 1 s) or long press becomes a BUTTON frame on
 * serial and, when connected, on BLE (each with its own frame counter). */
static void poll_button(uint32_t now)
{
    uint16_t held = 0;
    uint8_t press = emg_button_update(&button, digitalRead(BUTTON_PIN) == LOW, now, &held);
    if (press == EMG_PRESS_NONE) return;
    for (uint8_t t = 0; t < 2; t++) {
        if (t == T_BLE && !ble_connected) continue;
        send(t, emg_build_button(txbuf, sizeof txbuf, ports[t].seq++, press, 0, held, head_now()));
    }
}
#endif

void setup()
{
    Serial.setTxBufferSize(2048);
    Serial.begin(BAUD);
    pinMode(LED_PIN, OUTPUT);
#if HAPTIC_PIN >= 0
    pinMode(HAPTIC_PIN, OUTPUT);
    digitalWrite(HAPTIC_PIN, LOW);
#endif
#if BUTTON_PIN >= 0
    pinMode(BUTTON_PIN, INPUT_PULLUP);
    emg_button_init(&button);
#endif
    analogReadResolution(ADC_BITS);
    boot_id = esp_random();
    emg_decoder_init(&serial_rx, serial_rxbuf, sizeof serial_rxbuf);
    emg_decoder_init(&ble_rx, ble_rxbuf, sizeof ble_rxbuf);
    cmd_queue = xQueueCreate(16, sizeof(Cmd));

    uint8_t mac[6];
    char name[20];
    esp_read_mac(mac, ESP_MAC_BT); /* from eFuse; no BT stack needed yet */
    snprintf(name, sizeof name, "EMGBridge-%02X%02X", mac[4], mac[5]);
    BLEDevice::init(name);
    BLEDevice::setMTU(247); /* ask for 244-byte notifications (protocols.md section 4.1) */
    server = BLEDevice::createServer();
    server->setCallbacks(new ServerCallbacks());
    BLEService *service = server->createService(SERVICE_UUID);
    data_char = service->createCharacteristic(DATA_UUID, BLECharacteristic::PROPERTY_NOTIFY);
    data_char->addDescriptor(new BLE2902());
    BLECharacteristic *cmd_char = service->createCharacteristic(
        CMD_UUID, BLECharacteristic::PROPERTY_WRITE | BLECharacteristic::PROPERTY_WRITE_NR);
    cmd_char->setCallbacks(new CmdCallbacks());
    service->start();
    /* Advertisement: flags + 128-bit service UUID (21 of 31 bytes); the name goes in the
       scan response. The host finds us by service or by name. */
    BLEAdvertising *adv = BLEDevice::getAdvertising();
    BLEAdvertisementData ad, sr;
    ad.setFlags(0x06);
    ad.setCompleteServices(BLEUUID(SERVICE_UUID));
    sr.setName(name);
    adv->setAdvertisementData(ad);
    adv->setScanResponseData(sr);
    BLEDevice::startAdvertising();

    xTaskCreatePinnedToCore(sampler, "sampler", 4096, nullptr, configMAX_PRIORITIES - 1,
                            &sampler_task, 1);
    start_clock(DEFAULT_FS);
    send_status(T_SERIAL, EMG_WHY_BOOT);
}

void loop()
{
    uint8_t buf[64];
    size_t n = 0;
    while (Serial.available() > 0 && n < sizeof buf) buf[n++] = (uint8_t)Serial.read();
    if (n) feed(T_SERIAL, &serial_rx, buf, n);
    Cmd cmd;
    while (xQueueReceive(cmd_queue, &cmd, 0) == pdTRUE) {
        if (cmd.not_a_command) send_ack(cmd.transport, cmd.c, EMG_R_UNKNOWN_COMMAND);
        else on_command(cmd.transport, cmd.c);
    }
    uint32_t now = millis();
    if (buzzing && (int32_t)(now - buzz_until) >= 0) buzz(0, 0);
    if (led_blinks && (int32_t)(now - led_next_ms) >= 0) {
        digitalWrite(LED_PIN, (led_blinks & 1) ? LOW : HIGH);
        led_blinks--;
        led_next_ms = now + 150;
    }
#if BUTTON_PIN >= 0
    poll_button(now);
#endif
    for (uint8_t t = 0; t < 2; t++) {
        Port &p = ports[t];
        if (!p.streaming || (t == T_BLE && !ble_connected)) continue;
        send_data(t);
        if (now - p.last_status_ms >= STATUS_PERIOD_MS) {
            p.last_status_ms = now;
            send_status(t, EMG_WHY_PERIODIC);
        }
    }
    delay(1); /* yield to the BLE stack and idle task */
}
