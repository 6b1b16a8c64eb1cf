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
 * by the EmgBridge library), on every transport with a host.
 * Each transport has its own START/STOP state, frame counter and read position in one
 * sample ring, so a host on each may stream at once.
 *
 * This file is the board part: timer, sampling task, BLE, Serial, the command queue. The
 * transports' logic is ports.h / ports.cpp (board-independent); the frame codec and the
 * button / motor / LED code are the EmgBridge library (../libraries/EmgBridge), shared with
 * the AVR sketch.
 *
 * Timing: a hardware timer interrupt (arduino-esp32 3.x timer API) notifies a
 * high-priority sampling task, which reads RAW, REF, ENV with analogRead and writes one
 * sample into the ring. Missed ticks are still counted as samples (the sample counter
 * follows the clock) and raise the TIMING_FAULT status flag. The counter keeps running
 * while no host is connected, so after a BLE drop the host sees an exact gap.
 *
 * Requires arduino-esp32 core 3.x (timerBegin(frequency) API) and its built-in BLE library.
 *
 * This file is NOT COMPILED in this repository's CI (no ESP32 toolchain there); ports.cpp
 * and the EmgBridge library are compiled and run on the host by the tests.
 */
#include <Arduino.h>
#include <BLEDevice.h>
#include <BLEServer.h>
#include <BLEUtils.h>
#include <BLE2902.h>
#include <esp_mac.h>
#include <esp_random.h>

#include <EmgBridge.h>
#include "ports.h"

#define SERVICE_UUID "d7528d6b-9e4a-4c66-bb1e-3d30e35a1633"
#define DATA_UUID    "d7528d6c-9e4a-4c66-bb1e-3d30e35a1633"
#define CMD_UUID     "d7528d6d-9e4a-4c66-bb1e-3d30e35a1633"

/* ------------------------------------------------------------------ sampling */
static volatile uint32_t g_head;     /* samples taken since the clock (re)started */
static volatile uint32_t g_late;     /* ticks the sampling task handled late */
static portMUX_TYPE ring_mux = portMUX_INITIALIZER_UNLOCKED;
static hw_timer_t *timer;
static TaskHandle_t sampler_task;

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

uint32_t board_head(void)
{
    portENTER_CRITICAL(&ring_mux);
    uint32_t h = g_head;
    portEXIT_CRITICAL(&ring_mux);
    return h;
}

uint32_t board_late(void)
{
    return g_late;
}

void board_start_clock(uint16_t fs)
{
    if (timer) {
        timerStop(timer);
    }
    portENTER_CRITICAL(&ring_mux);
    g_head = 0;
    g_late = 0;
    portEXIT_CRITICAL(&ring_mux);
    if (!timer) {
        timer = timerBegin(TIMER_HZ);
        timerAttachInterrupt(timer, &on_tick);
    }
    timerWrite(timer, 0);
    timerAlarm(timer, TIMER_HZ / fs, true, 0);
    timerStart(timer);
}

/* ------------------------------------------------------------------ transports */
static BLEServer *server;
static BLECharacteristic *data_char;
static volatile bool ble_connected;
static QueueHandle_t cmd_queue;

bool board_connected(uint8_t t)
{
    return t == T_SERIAL || ble_connected;
}

static uint16_t peer_mtu()
{
    uint16_t mtu = server ? server->getPeerMTU(server->getConnId()) : 23;
    return mtu < 23 ? 23 : mtu;
}

/* One frame per notification; a frame longer than MTU - 3 bytes (ATT payload) goes out in
 * consecutive notifications, which the host joins as one byte stream (protocol.md, BLE). */
void board_write(uint8_t t, const uint8_t *buf, size_t n)
{
    if (t == T_SERIAL) {
        Serial.write(buf, n);
        return;
    }
    size_t room = (size_t)peer_mtu() - 3u;
    for (size_t off = 0; off < n; off += room) {
        size_t len = n - off < room ? n - off : room;
        data_char->setValue(const_cast<uint8_t *>(buf + off), len);
        data_char->notify();
    }
}

/* Commands are decoded where they arrive (BLE task or loop) and run by loop(). */
static void queue_command(const Cmd &cmd)
{
    xQueueSend(cmd_queue, &cmd, 0);
}

class ServerCallbacks : public BLEServerCallbacks {
    void onConnect(BLEServer *) override { ble_connected = true; }
    void onDisconnect(BLEServer *) override
    {
        ble_connected = false;
        ble_disconnected();
        BLEDevice::startAdvertising();
    }
};

class CmdCallbacks : public BLECharacteristicCallbacks {
    void onWrite(BLECharacteristic *ch) override
    {
        ports_feed(T_BLE, ch->getData(), ch->getLength(), queue_command);
    }
};

void setup()
{
    Serial.setTxBufferSize(2048);
    Serial.begin(BAUD);
    analogReadResolution(ADC_BITS);
    ports_begin(esp_random());
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
    ports_start();
    send_status(T_SERIAL, EMG_WHY_BOOT);
}

void loop()
{
    uint8_t buf[64];
    size_t n = 0;
    while (Serial.available() > 0 && n < sizeof buf) buf[n++] = (uint8_t)Serial.read();
    if (n) ports_feed(T_SERIAL, buf, n, queue_command);
    Cmd cmd;
    while (xQueueReceive(cmd_queue, &cmd, 0) == pdTRUE) run_command(cmd);
    ports_service(millis());
    delay(1); /* yield to the BLE stack and idle task */
}
