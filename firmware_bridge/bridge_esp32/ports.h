/*
 * The board-independent part of the ESP32 sketch: the two transports (USB serial and BLE)
 * with their own START/STOP state, frame counter and read position in one sample ring;
 * commands; STATUS; DATA framing; the answer button, the haptic motor and the identify
 * blink (EmgBridge library).
 *
 * No ESP-IDF, FreeRTOS or BLE header here: ports.cpp includes only <EmgBridge.h> and
 * Arduino's pin functions, so the emgpipe test suite compiles it on the host with g++ and
 * runs it (tests/bridge/test_esp32_host.py, with firmware_bridge/tests/host/). The board
 * part, bridge_esp32.ino, owns the timer, the sampling task, BLE and Serial, and supplies
 * the board_* functions below.
 */
#ifndef BRIDGE_ESP32_PORTS_H
#define BRIDGE_ESP32_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include <EmgBridge.h>

/* ------------------------------------------------------------------ configuration */
#define PIN_ENV A3
#define PIN_RAW A4
#define PIN_REF A5
#ifndef HAPTIC_PIN
#define HAPTIC_PIN 25        /* motor driver input (through a transistor); -1 if none */
#endif
#ifndef BUTTON_PIN
#define BUTTON_PIN 27        /* answer button to GND (internal pull-up); -1 if none.
                                Not 34-39 (input-only, no pull-up), not 0/2/12/15 (boot
                                straps), not 32/33/39: A4/A5/A3 are those GPIOs on the
                                generic ESP32 boards, the sensor's RAW/REF/ENV inputs. */
#endif
#define LED_PIN 2
#define BAUD 500000UL
#define DEFAULT_FS 1000u
#define BLE_BATCH_MS 25u     /* protocols.md section 4.1: ~40 notifications/s */
#define SERIAL_BATCH_MS 10u

/* ------------------------------------------------------------------ constants */
#define FW_MAJOR 1
#define FW_MINOR 0
#define N_CH 2               /* RAW - REF, ENV */
#define RING 512u            /* samples (0.5 s at 1 kHz), power of two */
#define TIMER_HZ 1000000UL   /* 1 MHz timer tick */
#define MIN_FS 100u
#define MAX_FS 2000u         /* 3 one-shot reads of ~10-80 us each [UNVERIFIED]: keep margin */
#define STATUS_PERIOD_MS 1000u
#define ADC_BITS 12          /* ESP32 ADC, 3.3 V reference as MW-LIB assumes */
#define VREF_MV 3300
#define RAW_GAIN 200

enum { T_SERIAL = 0, T_BLE = 1 };

/* One decoded host -> device frame, queued from the transport's thread to loop(). */
struct Cmd {
    uint8_t transport;
    emg_command_t c;
    uint8_t not_a_command;
};

/* The sample ring: the sampling task writes slot g_head & (RING - 1), then counts g_head. */
extern int16_t ring_buf[RING][N_CH];
extern volatile uint16_t fs_hz;

/* ---- supplied by the board part (bridge_esp32.ino; the host test's driver) ---- */
void board_write(uint8_t transport, const uint8_t *buf, size_t n); /* one whole frame */
bool board_connected(uint8_t transport);      /* serial: always; BLE: a central is connected */
uint32_t board_head(void);                    /* samples taken since the clock (re)started */
uint32_t board_late(void);                    /* sampling ticks handled late */
void board_start_clock(uint16_t fs);          /* (re)start sampling at fs; head restarts at 0 */

/* ---- the board-independent part ---- */
void ports_begin(uint32_t boot_id);           /* pins and decoders: before any transport runs */
void ports_start(void);                       /* the sample clock at DEFAULT_FS */
/* Feed bytes of one transport; each complete frame goes to emit (then run_command). */
void ports_feed(uint8_t t, const uint8_t *data, size_t n, void (*emit)(const Cmd &));
void run_command(const Cmd &cmd);
void send_status(uint8_t t, uint8_t reason);
void ble_disconnected(void);                  /* the host restarts streaming after a reconnect */
/* Everything loop() does besides reading transports: motor, LED, button, DATA, STATUS. */
void ports_service(uint32_t now);

#endif /* BRIDGE_ESP32_PORTS_H */
