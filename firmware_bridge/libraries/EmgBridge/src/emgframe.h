/*
 * emgframe: frame encoder/decoder of the firmware_bridge protocol (version 1).
 *
 * Portable C99, fixed-width integers, no malloc, no Arduino includes: the
 * same file is compiled into the AVR and ESP32 sketches and, by the emgpipe
 * test suite, on the host with gcc (cross-checked against the Python codec
 * on firmware_bridge/test_vectors.json).
 *
 * Wire format (see ../protocol.md for byte offsets of every field):
 *
 *     0x00 | COBS( version | type | seq u16 | payload | crc16 u16 ) | 0x00
 *
 * CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0,
 * check("123456789") = 0x29B1) over version..payload, stored little-endian.
 * All multi-byte fields are little-endian.
 *
 * This file lives once, in the EmgBridge Arduino library
 * (firmware_bridge/libraries/EmgBridge/src/), which both sketches include
 * through <EmgBridge.h>; the host tests compile the same file.
 */
#ifndef EMGFRAME_H
#define EMGFRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMG_PROTOCOL_VERSION 1u

/* Largest frame body (header + payload + CRC). Kept below 254 so that COBS
 * adds exactly one byte (a 254-byte run would need a second code byte). */
#define EMG_MAX_BODY 250u
#define EMG_MAX_ENCODED (EMG_MAX_BODY + 1u)
/* Leading 0x00 + encoded body + trailing 0x00. */
#define EMG_MAX_WIRE (EMG_MAX_ENCODED + 2u)

#define EMG_HEADER_LEN 4u       /* version, type, seq u16 */
#define EMG_CRC_LEN 2u
#define EMG_MIN_BODY (EMG_HEADER_LEN + EMG_CRC_LEN)
#define EMG_DATA_FIXED 8u       /* first_sample u32, fs u16, n_ch u8, n_samples u8 */
#define EMG_STATUS_FIXED 30u    /* status payload before the channel map */
#define EMG_ACK_FIXED 4u        /* cmd_type u8, cmd_seq u16, result u8 */
#define EMG_BUTTON_FIXED 8u     /* press u8, button u8, held_ms u16, sample u32 */
#define EMG_MAX_CHANNELS 16u

/* Frame types. Bit 7 set = host -> device. */
enum {
    EMG_T_DATA = 0x01,
    EMG_T_STATUS = 0x02,
    EMG_T_ACK = 0x03,
    EMG_T_BUTTON = 0x04,
    EMG_T_IDENTIFY = 0x81,
    EMG_T_START = 0x82,
    EMG_T_STOP = 0x83,
    EMG_T_SET_RATE = 0x84,
    EMG_T_BUZZ = 0x85
};

/* ACK result codes. */
enum {
    EMG_R_OK = 0,
    EMG_R_UNKNOWN_COMMAND = 1,
    EMG_R_BAD_ARGUMENT = 2,
    EMG_R_BAD_LENGTH = 3,
    EMG_R_UNSUPPORTED = 4,
    EMG_R_BUSY = 5
};

/* BUTTON presses: the wearer's answer to the latest cramp alert. */
enum { EMG_PRESS_NONE = 0, EMG_PRESS_SHORT = 1, EMG_PRESS_LONG = 2 };

/* Channel kinds (low nibble of a channel descriptor; high nibble = sensor). */
enum { EMG_KIND_RAW = 0, EMG_KIND_ENV = 1, EMG_KIND_RECT = 2 };

/* Board ids. */
enum { EMG_BOARD_AVR = 1, EMG_BOARD_ESP32 = 2, EMG_BOARD_EMULATOR = 0x7F };

/* STATUS flags. */
enum {
    EMG_F_STREAMING = 0x01,
    EMG_F_BUZZING = 0x02,
    EMG_F_USB = 0x04,
    EMG_F_BLE = 0x08,
    EMG_F_HAPTIC = 0x10,
    EMG_F_TIMING_FAULT = 0x20
};

/* Why a STATUS was sent. */
enum {
    EMG_WHY_BOOT = 0,
    EMG_WHY_IDENTIFY = 1,
    EMG_WHY_PERIODIC = 2,
    EMG_WHY_CONFIG = 3,
    EMG_WHY_START = 4,
    EMG_WHY_STOP = 5
};

/* Decoder results: > 0 a frame, 0 nothing yet, < 0 a bad frame (dropped). */
enum {
    EMG_FRAME = 1,
    EMG_NONE = 0,
    EMG_E_COBS = -1,
    EMG_E_SHORT = -2,
    EMG_E_CRC = -3,
    EMG_E_VERSION = -4,
    EMG_E_TYPE = -5,
    EMG_E_LENGTH = -6,
    EMG_E_OVERSIZE = -7
};

/* ---- CRC-16/CCITT-FALSE ---- */
uint16_t emg_crc16_update(uint16_t crc, const uint8_t *data, size_t len);
uint16_t emg_crc16(const uint8_t *data, size_t len);

/* ---- COBS ----
 * emg_cobs_encode: returns the encoded length (no delimiter), 0 if it does
 * not fit in cap. emg_cobs_decode: dst may equal src (in place); returns
 * EMG_NONE on success (length in *out_len) or EMG_E_COBS. */
size_t emg_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap);
int emg_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

/* ---- Frame writer: streams header, fields and CRC through COBS ----
 * No scratch buffer: bytes go straight into buf as they are encoded. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t pos;
    size_t code_pos;
    uint8_t code;
    uint8_t overflow;
    uint16_t crc;
    size_t body_len;
} emg_writer_t;

void emg_writer_begin(emg_writer_t *w, uint8_t *buf, size_t cap, uint8_t type, uint16_t seq);
void emg_writer_u8(emg_writer_t *w, uint8_t v);
void emg_writer_u16(emg_writer_t *w, uint16_t v);
void emg_writer_u32(emg_writer_t *w, uint32_t v);
void emg_writer_i16(emg_writer_t *w, int16_t v);
/* Appends the CRC and the trailing delimiter; returns the number of bytes to
 * send, or 0 if the frame overflowed buf or EMG_MAX_BODY. */
size_t emg_writer_end(emg_writer_t *w);

/* ---- Builders (return bytes written to out, 0 on error) ---- */
typedef struct {
    uint8_t fw_major;
    uint8_t fw_minor;
    uint8_t board;
    uint8_t adc_bits;
    uint16_t vref_mv;
    uint16_t raw_gain;
    uint16_t fs_hz;
    uint8_t n_ch;
    uint8_t samples_per_frame;
    uint8_t flags;
    uint8_t reason;
    uint32_t boot_id;
    uint32_t next_sample;
    uint32_t overruns;
    uint16_t battery_mv;
    uint16_t max_fs_hz;
    uint8_t channels[EMG_MAX_CHANNELS]; /* (sensor << 4) | kind */
} emg_status_t;

/* samples: n_samples * n_ch int16, sample-major (s0c0, s0c1, s1c0, ...). */
size_t emg_build_data(uint8_t *out, size_t cap, uint16_t seq, uint32_t first_sample,
                      uint16_t fs_hz, uint8_t n_ch, uint8_t n_samples, const int16_t *samples);
size_t emg_build_status(uint8_t *out, size_t cap, uint16_t seq, const emg_status_t *st);
size_t emg_build_ack(uint8_t *out, size_t cap, uint16_t seq, uint8_t cmd_type,
                     uint16_t cmd_seq, uint8_t result);
/* A debounced button press (device -> host): press = EMG_PRESS_SHORT/LONG,
 * held_ms = how long it was held, sample = the device's sample index. */
size_t emg_build_button(uint8_t *out, size_t cap, uint16_t seq, uint8_t press, uint8_t button,
                        uint16_t held_ms, uint32_t sample);
/* Host -> device commands. arg16 = fs_hz (SET_RATE) or duration_ms (BUZZ);
 * arg8 = strength (BUZZ). Unused arguments are ignored. */
size_t emg_build_command(uint8_t *out, size_t cap, uint8_t type, uint16_t seq,
                         uint16_t arg16, uint8_t arg8);

/* Largest number of samples per DATA frame for n_ch channels. */
uint8_t emg_max_samples_per_frame(uint8_t n_ch);

/* ---- Parsing ---- */
typedef struct {
    uint8_t version;
    uint8_t type;
    uint16_t seq;
    const uint8_t *payload;
    size_t payload_len;
} emg_frame_t;

/* Checks length, CRC, version, type and the payload length of the type. */
int emg_parse_body(const uint8_t *body, size_t len, emg_frame_t *f);

typedef struct {
    uint32_t first_sample;
    uint16_t fs_hz;
    uint8_t n_ch;
    uint8_t n_samples;
    const uint8_t *samples; /* little-endian int16, sample-major */
} emg_data_t;

typedef struct {
    uint8_t type;
    uint16_t seq;
    uint16_t fs_hz;       /* SET_RATE */
    uint16_t duration_ms; /* BUZZ */
    uint8_t strength;     /* BUZZ */
} emg_command_t;

typedef struct {
    uint8_t cmd_type;
    uint16_t cmd_seq;
    uint8_t result;
} emg_ack_t;

typedef struct {
    uint8_t press;        /* EMG_PRESS_SHORT or EMG_PRESS_LONG */
    uint8_t button;
    uint16_t held_ms;
    uint32_t sample;
} emg_button_frame_t;

int emg_parse_data(const emg_frame_t *f, emg_data_t *d);
int emg_parse_button(const emg_frame_t *f, emg_button_frame_t *b);
int16_t emg_data_sample(const emg_data_t *d, unsigned sample, unsigned ch);
int emg_parse_status(const emg_frame_t *f, emg_status_t *st);
int emg_parse_ack(const emg_frame_t *f, emg_ack_t *a);
int emg_parse_command(const emg_frame_t *f, emg_command_t *c);

/* ---- Streaming decoder ----
 * Feed bytes one at a time. buf holds one encoded frame (cap >= the longest
 * frame you accept; EMG_MAX_ENCODED for any). A frame longer than cap is
 * dropped up to the next 0x00 and reported as EMG_E_OVERSIZE. Empty frames
 * (consecutive 0x00) are ignored. On EMG_FRAME, *f points into buf and is
 * valid until the next feed. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint8_t discarding;
} emg_decoder_t;

void emg_decoder_init(emg_decoder_t *d, uint8_t *buf, size_t cap);
int emg_decoder_feed(emg_decoder_t *d, uint8_t byte, emg_frame_t *f);

/* ---- Button debouncer ----
 * A push button between a GPIO pin and GND with the pin's pull-up: pressed =
 * the pin reads LOW. Call emg_button_update from loop() with the pin's state
 * and millis(); a level counts once it has held EMG_BUTTON_DEBOUNCE_MS. It
 * returns EMG_PRESS_SHORT when a press shorter than EMG_BUTTON_LONG_MS is
 * released ("not a cramp"), EMG_PRESS_LONG once a press has been held
 * EMG_BUTTON_LONG_MS (sent while still held, once per press: "cramp"), else
 * EMG_PRESS_NONE; *held_ms (may be NULL) gets the press's length. millis()
 * wrap-around is handled (unsigned differences). */
#define EMG_BUTTON_DEBOUNCE_MS 30u
#define EMG_BUTTON_LONG_MS 1000u

typedef struct {
    uint8_t raw;          /* last level read (1 = pressed) */
    uint8_t stable;       /* debounced level */
    uint8_t long_sent;    /* this press already reported as long */
    uint32_t raw_ms;      /* when raw last changed */
    uint32_t down_ms;     /* when the debounced press began */
} emg_button_t;

void emg_button_init(emg_button_t *b);
uint8_t emg_button_update(emg_button_t *b, uint8_t pressed, uint32_t now_ms, uint16_t *held_ms);

#ifdef __cplusplus
}
#endif

#endif /* EMGFRAME_H */
