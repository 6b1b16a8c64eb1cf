/*
 * EmgBridge: the Arduino library both firmware_bridge sketches include.
 *
 *   emgframe.h    the frame codec of firmware_bridge/protocol.md (portable C99, no Arduino
 *                 includes; the emgpipe test suite compiles it on the host with gcc)
 *   EmgBoardIO.h  the answer button, the haptic motor and the identify blink (Arduino pin
 *                 functions only: the same code on the Uno/Nano and on the ESP32)
 *
 * Sketch:  #include <EmgBridge.h>
 * The Arduino IDE finds this library when the sketchbook location is the firmware_bridge
 * folder (it holds libraries/EmgBridge), or when the library is installed (Sketch > Include
 * Library > Add .ZIP Library / a copy in ~/Arduino/libraries); arduino-cli and
 * arduino-builder take `--libraries firmware_bridge/libraries`.
 */
#ifndef EMGBRIDGE_H
#define EMGBRIDGE_H

#include "emgframe.h"

#ifdef __cplusplus
#include "EmgBoardIO.h"
#endif

#endif /* EMGBRIDGE_H */
