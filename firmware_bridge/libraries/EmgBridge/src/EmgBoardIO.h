/*
 * The wearer-facing parts both firmware_bridge boards share: the answer button, the
 * haptic motor and the LED that blinks when a host sends IDENTIFY.
 *
 * Only Arduino's pin functions are used (pinMode, digitalRead, digitalWrite, analogWrite),
 * so the same code runs on the ATmega328P (analogWrite = Timer0 PWM on D5/D6) and on the
 * ESP32 (arduino-esp32 3.x: analogWrite = LEDC PWM). A pin of -1 means "not fitted": every
 * method then does nothing (and EmgButton never reports a press).
 */
#ifndef EMGBOARDIO_H
#define EMGBOARDIO_H

#include <Arduino.h>
#include <stdint.h>

#include "emgframe.h"

/* Longest single buzz, ms: a safety clamp (protocol.md, BUZZ). */
#define EMG_MAX_BUZZ_MS 5000u
/* Identify blink: half-periods of the LED, ms, and how many (6 = three flashes). */
#define EMG_BLINK_HALF_MS 150u
#define EMG_BLINK_IDENTIFY 6u

/* A haptic motor driven through a transistor or driver board on a PWM pin. */
class EmgHaptic {
public:
    explicit EmgHaptic(int pin) : pin_(pin), on_(false), until_(0) {}
    bool fitted() const { return pin_ >= 0; }
    bool on() const { return on_; }
    /* Output, motor off. Call from setup(). */
    void begin();
    /* Run the motor at strength (PWM duty 0-255) for ms (clamped to EMG_MAX_BUZZ_MS) from
     * now; ms or strength 0 stops it. */
    void buzz(uint16_t ms, uint8_t strength, uint32_t now);
    /* Call from loop() with millis(): stops the motor when its time is up. */
    void poll(uint32_t now);

private:
    int pin_;
    bool on_;
    uint32_t until_;
};

/* The answer button: a push button between the pin and GND, internal pull-up, debounced by
 * emg_button_update (short press < 1 s = "not a cramp", held 1 s = "cramp"). */
class EmgButton {
public:
    explicit EmgButton(int pin) : pin_(pin) { emg_button_init(&state_); }
    bool fitted() const { return pin_ >= 0; }
    /* Input with pull-up. Call from setup(). */
    void begin();
    /* Call from loop() with millis(): EMG_PRESS_SHORT / EMG_PRESS_LONG once per press (send
     * a BUTTON frame then; *held_ms gets the press's length), else EMG_PRESS_NONE. */
    uint8_t poll(uint32_t now, uint16_t *held_ms);

private:
    int pin_;
    emg_button_t state_;
};

/* The board's LED: blinks EMG_BLINK_IDENTIFY half-periods to show which board answered. */
class EmgBlink {
public:
    explicit EmgBlink(int pin) : pin_(pin), left_(0), next_(0) {}
    void begin();
    void start() { left_ = EMG_BLINK_IDENTIFY; }
    void poll(uint32_t now);

private:
    int pin_;
    uint8_t left_;
    uint32_t next_;
};

#endif /* EMGBOARDIO_H */
