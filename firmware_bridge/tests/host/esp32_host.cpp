/*
 * Runs the ESP32 sketch's board-independent part (bridge_esp32/ports.cpp + the EmgBridge
 * library) on the host, for tests/bridge/test_esp32_host.py. It plays the board part
 * (bridge_esp32.ino): sample clock, ring, transports, pins, millis().
 *
 * stdin, one command a line (numbers decimal):
 *   begin BOOT_ID        setup(): ports_begin, ports_start, STATUS boot on serial
 *   ms N                 millis() = N
 *   tick N               the sampling task takes N samples: sample k (since the clock
 *                        started) is RAW - REF = (k % 2001) - 1000, ENV = k % 4096
 *   connect T 0|1        transport T (1 = BLE) connected or not (0 calls ble_disconnected)
 *   rx T HEX             bytes from the host on transport T (decoded, queued, run as loop())
 *   pin P LEVEL          an input pin's level (the button: 0 = pressed)
 *   loop                 loop(): queued commands, then ports_service(millis())
 *   late N               the sampling task reports N late ticks
 * stdout:
 *   tx T HEX             one board_write (one whole frame) on transport T
 *   mode P M | dw P V | pwm P V | clock FS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "Arduino.h"
#include "ports.h"

static unsigned long now_ms;
static uint32_t head;
static uint32_t late;
static bool ble_up;
static uint8_t level[64];
static Cmd queue[64];
static size_t queued;

void pinMode(uint8_t pin, uint8_t mode)
{
    printf("mode %u %u\n", pin, mode);
    if (pin < 64 && mode == INPUT_PULLUP) level[pin] = HIGH;
}

int digitalRead(uint8_t pin)
{
    return pin < 64 ? level[pin] : LOW;
}

void digitalWrite(uint8_t pin, uint8_t val)
{
    printf("dw %u %u\n", pin, val);
}

void analogWrite(uint8_t pin, int value)
{
    printf("pwm %u %d\n", pin, value);
}

unsigned long millis(void)
{
    return now_ms;
}

void board_write(uint8_t t, const uint8_t *buf, size_t n)
{
    printf("tx %u ", t);
    for (size_t i = 0; i < n; i++) printf("%02x", buf[i]);
    printf("\n");
}

bool board_connected(uint8_t t)
{
    return t == T_SERIAL || ble_up;
}

uint32_t board_head(void)
{
    return head;
}

uint32_t board_late(void)
{
    return late;
}

void board_start_clock(uint16_t fs)
{
    head = 0;
    late = 0;
    printf("clock %u\n", fs);
}

static void enqueue(const Cmd &cmd)
{
    if (queued < sizeof queue / sizeof queue[0]) queue[queued++] = cmd;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int main(void)
{
    static char line[8192];
    static uint8_t bytes[4096];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[16] = {0};
        char arg[8192] = {0};
        unsigned long a = 0, b = 0;
        if (sscanf(line, "%15s", cmd) != 1) continue;
        if (strcmp(cmd, "begin") == 0 && sscanf(line, "%*s %lu", &a) == 1) {
            ports_begin((uint32_t)a);
            ports_start();
            send_status(T_SERIAL, EMG_WHY_BOOT);
        } else if (strcmp(cmd, "ms") == 0 && sscanf(line, "%*s %lu", &a) == 1) {
            now_ms = a;
        } else if (strcmp(cmd, "tick") == 0 && sscanf(line, "%*s %lu", &a) == 1) {
            for (unsigned long i = 0; i < a; i++) {
                int16_t *slot = ring_buf[head & (RING - 1)];
                slot[0] = (int16_t)((int32_t)(head % 2001u) - 1000);
                slot[1] = (int16_t)(head % 4096u);
                head++;
            }
        } else if (strcmp(cmd, "late") == 0 && sscanf(line, "%*s %lu", &a) == 1) {
            late += (uint32_t)a;
        } else if (strcmp(cmd, "connect") == 0 && sscanf(line, "%*s %lu %lu", &a, &b) == 2) {
            if (a == T_BLE) {
                ble_up = b != 0;
                if (!ble_up) ble_disconnected();
            }
        } else if (strcmp(cmd, "pin") == 0 && sscanf(line, "%*s %lu %lu", &a, &b) == 2) {
            if (a < 64) level[a] = (uint8_t)(b ? HIGH : LOW);
        } else if (strcmp(cmd, "rx") == 0 && sscanf(line, "%*s %lu %8191s", &a, arg) == 2) {
            size_t n = 0;
            for (const char *s = arg; s[0] && s[1] && n < sizeof bytes; s += 2) {
                int hi = hexval(s[0]), lo = hexval(s[1]);
                if (hi < 0 || lo < 0) break;
                bytes[n++] = (uint8_t)(hi * 16 + lo);
            }
            ports_feed((uint8_t)a, bytes, n, enqueue);
        } else if (strcmp(cmd, "loop") == 0) {
            for (size_t i = 0; i < queued; i++) run_command(queue[i]);
            queued = 0;
            ports_service((uint32_t)now_ms);
        } else {
            fprintf(stderr, "esp32_host: bad line: %s", line);
            return 2;
        }
    }
    return 0;
}
