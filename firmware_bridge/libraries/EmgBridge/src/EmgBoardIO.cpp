/* The answer button, the haptic motor and the identify blink: see EmgBoardIO.h. */
#include "EmgBoardIO.h"

void EmgHaptic::begin()
{
    if (pin_ < 0) return;
    pinMode((uint8_t)pin_, OUTPUT);
    digitalWrite((uint8_t)pin_, LOW);
    on_ = false;
}

void EmgHaptic::buzz(uint16_t ms, uint8_t strength, uint32_t now)
{
    if (pin_ < 0) return;
    if (ms > EMG_MAX_BUZZ_MS) ms = EMG_MAX_BUZZ_MS;
    if (ms == 0 || strength == 0) {
        analogWrite((uint8_t)pin_, 0);
        on_ = false;
        return;
    }
    analogWrite((uint8_t)pin_, strength);
    until_ = now + ms;
    on_ = true;
}

void EmgHaptic::poll(uint32_t now)
{
    /* signed difference: right across the millis() wrap-around (49.7 days) */
    if (on_ && (int32_t)(now - until_) >= 0) buzz(0, 0, now);
}

void EmgButton::begin()
{
    if (pin_ < 0) return;
    pinMode((uint8_t)pin_, INPUT_PULLUP);
    emg_button_init(&state_);
}

uint8_t EmgButton::poll(uint32_t now, uint16_t *held_ms)
{
    if (pin_ < 0) return EMG_PRESS_NONE;
    uint8_t pressed = digitalRead((uint8_t)pin_) == LOW ? 1u : 0u;
    return emg_button_update(&state_, pressed, now, held_ms);
}

void EmgBlink::begin()
{
    if (pin_ < 0) return;
    pinMode((uint8_t)pin_, OUTPUT);
}

void EmgBlink::poll(uint32_t now)
{
    if (pin_ < 0 || !left_ || (int32_t)(now - next_) < 0) return;
    digitalWrite((uint8_t)pin_, (left_ & 1u) ? LOW : HIGH);
    left_--;
    next_ = now + EMG_BLINK_HALF_MS;
}
