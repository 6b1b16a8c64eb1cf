/*
 * Host stand-in for <Arduino.h>: just the pin functions and constants the EmgBridge library
 * and bridge_esp32/ports.cpp use, so the board-independent firmware compiles and runs on the
 * host (tests/bridge/test_esp32_host.py). Pins are recorded, not driven: esp32_host.cpp
 * prints every pinMode / digitalWrite / analogWrite and lets the test set input levels.
 *
 * The analog pin numbers are arduino-esp32's for the generic ESP32 boards
 * (variants/esp32/pins_arduino.h: A3 = GPIO 39, A4 = GPIO 32, A5 = GPIO 33).
 */
#ifndef HOST_ARDUINO_H
#define HOST_ARDUINO_H

#include <stddef.h>
#include <stdint.h>

#define LOW 0x0
#define HIGH 0x1
#define INPUT 0x01
#define OUTPUT 0x03
#define INPUT_PULLUP 0x05

static const uint8_t A3 = 39;
static const uint8_t A4 = 32;
static const uint8_t A5 = 33;

void pinMode(uint8_t pin, uint8_t mode);
int digitalRead(uint8_t pin);
void digitalWrite(uint8_t pin, uint8_t val);
void analogWrite(uint8_t pin, int value);
unsigned long millis(void);

#endif /* HOST_ARDUINO_H */
