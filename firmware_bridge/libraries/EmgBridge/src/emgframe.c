/* emgframe: see emgframe.h and firmware_bridge/protocol.md. Portable C99, no malloc. */
#include "emgframe.h"

/* ---------------------------------------------------------------- CRC */

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, refin/refout false,
 * xorout 0x0000, check 0x29B1 (reveng catalogue; protocols.md section 5).
 * Bitwise: 8 shifts per byte, no 512-byte table (AVR RAM is 2 KB). */
uint16_t emg_crc16_update(uint16_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    uint8_t bit;
    for (i = 0; i < len; i++) {
        crc = (uint16_t)((unsigned)crc ^ ((unsigned)data[i] << 8));
        for (bit = 0; bit < 8; bit++) {
            if (crc & 0x8000u) {
                crc = (uint16_t)(((unsigned)crc << 1) ^ 0x1021u);
            } else {
                crc = (uint16_t)((unsigned)crc << 1);
            }
        }
    }
    return crc;
}

uint16_t emg_crc16(const uint8_t *data, size_t len)
{
    return emg_crc16_update(0xFFFFu, data, len);
}

/* --------------------------------------------------------------- COBS */

/* Consistent Overhead Byte Stuffing (Cheshire & Baker 1999). */
size_t emg_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    size_t i, pos = 1, code_pos = 0;
    uint8_t code = 1;
    if (cap == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (src[i] == 0) {
            dst[code_pos] = code;
            if (pos >= cap) {
                return 0;
            }
            code_pos = pos++;
            code = 1;
        } else {
            if (pos >= cap) {
                return 0;
            }
            dst[pos++] = src[i];
            code++;
            if (code == 0xFF) {
                dst[code_pos] = code;
                if (pos >= cap) {
                    return 0;
                }
                code_pos = pos++;
                code = 1;
            }
        }
    }
    dst[code_pos] = code;
    return pos;
}

int emg_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len)
{
    size_t i = 0, o = 0, n, k;
    uint8_t code;
    while (i < len) {
        code = src[i++];
        if (code == 0) {
            return EMG_E_COBS;
        }
        n = (size_t)code - 1u;
        if (n > len - i || n > cap - o) {
            return EMG_E_COBS;
        }
        /* o < i always holds, so a forward copy is safe in place. */
        for (k = 0; k < n; k++) {
            uint8_t b = src[i++];
            if (b == 0) {
                return EMG_E_COBS;
            }
            dst[o++] = b;
        }
        if (code != 0xFF && i < len) {
            if (o >= cap) {
                return EMG_E_COBS;
            }
            dst[o++] = 0;
        }
    }
    *out_len = o;
    return EMG_NONE;
}

/* ------------------------------------------------------------- writer */

static void put_raw(emg_writer_t *w, uint8_t b)
{
    if (w->pos < w->cap) {
        w->buf[w->pos++] = b;
    } else {
        w->overflow = 1;
    }
}

static void finish_block(emg_writer_t *w)
{
    if (w->code_pos < w->cap) {
        w->buf[w->code_pos] = w->code;
    } else {
        w->overflow = 1;
    }
}

static void start_block(emg_writer_t *w)
{
    w->code_pos = w->pos;
    put_raw(w, 0xFF); /* placeholder, overwritten by finish_block */
    w->code = 1;
}

/* One body byte through COBS (CRC bytes bypass the CRC update). */
static void cobs_put(emg_writer_t *w, uint8_t b)
{
    w->body_len++;
    if (b == 0) {
        finish_block(w);
        start_block(w);
        return;
    }
    put_raw(w, b);
    w->code++;
    if (w->code == 0xFF) {
        finish_block(w);
        start_block(w);
    }
}

void emg_writer_begin(emg_writer_t *w, uint8_t *buf, size_t cap, uint8_t type, uint16_t seq)
{
    w->buf = buf;
    w->cap = cap;
    w->pos = 0;
    w->overflow = 0;
    w->crc = 0xFFFFu;
    w->body_len = 0;
    put_raw(w, 0x00); /* leading delimiter: isolates any junk before the frame */
    start_block(w);
    emg_writer_u8(w, (uint8_t)EMG_PROTOCOL_VERSION);
    emg_writer_u8(w, type);
    emg_writer_u16(w, seq);
}

void emg_writer_u8(emg_writer_t *w, uint8_t v)
{
    w->crc = emg_crc16_update(w->crc, &v, 1);
    cobs_put(w, v);
}

void emg_writer_u16(emg_writer_t *w, uint16_t v)
{
    emg_writer_u8(w, (uint8_t)(v & 0xFFu));
    emg_writer_u8(w, (uint8_t)(v >> 8));
}

void emg_writer_u32(emg_writer_t *w, uint32_t v)
{
    emg_writer_u16(w, (uint16_t)(v & 0xFFFFu));
    emg_writer_u16(w, (uint16_t)(v >> 16));
}

void emg_writer_i16(emg_writer_t *w, int16_t v)
{
    /* Two's complement bit pattern, independent of the host's endianness. */
    emg_writer_u16(w, (uint16_t)v);
}

size_t emg_writer_end(emg_writer_t *w)
{
    uint16_t crc = w->crc;
    cobs_put(w, (uint8_t)(crc & 0xFFu));
    cobs_put(w, (uint8_t)(crc >> 8));
    finish_block(w);
    put_raw(w, 0x00);
    if (w->overflow || w->body_len > EMG_MAX_BODY) {
        return 0;
    }
    return w->pos;
}

/* ----------------------------------------------------------- builders */

uint8_t emg_max_samples_per_frame(uint8_t n_ch)
{
    size_t room;
    if (n_ch == 0 || n_ch > EMG_MAX_CHANNELS) {
        return 0;
    }
    room = (EMG_MAX_BODY - EMG_MIN_BODY - EMG_DATA_FIXED) / (2u * (size_t)n_ch);
    return (uint8_t)(room > 255u ? 255u : room);
}

size_t emg_build_data(uint8_t *out, size_t cap, uint16_t seq, uint32_t first_sample,
                      uint16_t fs_hz, uint8_t n_ch, uint8_t n_samples, const int16_t *samples)
{
    emg_writer_t w;
    size_t i, n;
    if (n_ch == 0 || n_samples == 0 || n_samples > emg_max_samples_per_frame(n_ch)) {
        return 0;
    }
    n = (size_t)n_ch * n_samples;
    emg_writer_begin(&w, out, cap, EMG_T_DATA, seq);
    emg_writer_u32(&w, first_sample);
    emg_writer_u16(&w, fs_hz);
    emg_writer_u8(&w, n_ch);
    emg_writer_u8(&w, n_samples);
    for (i = 0; i < n; i++) {
        emg_writer_i16(&w, samples[i]);
    }
    return emg_writer_end(&w);
}

size_t emg_build_status(uint8_t *out, size_t cap, uint16_t seq, const emg_status_t *st)
{
    emg_writer_t w;
    uint8_t i;
    if (st->n_ch > EMG_MAX_CHANNELS) {
        return 0;
    }
    emg_writer_begin(&w, out, cap, EMG_T_STATUS, seq);
    emg_writer_u8(&w, st->fw_major);
    emg_writer_u8(&w, st->fw_minor);
    emg_writer_u8(&w, st->board);
    emg_writer_u8(&w, st->adc_bits);
    emg_writer_u16(&w, st->vref_mv);
    emg_writer_u16(&w, st->raw_gain);
    emg_writer_u16(&w, st->fs_hz);
    emg_writer_u8(&w, st->n_ch);
    emg_writer_u8(&w, st->samples_per_frame);
    emg_writer_u8(&w, st->flags);
    emg_writer_u8(&w, st->reason);
    emg_writer_u32(&w, st->boot_id);
    emg_writer_u32(&w, st->next_sample);
    emg_writer_u32(&w, st->overruns);
    emg_writer_u16(&w, st->battery_mv);
    emg_writer_u16(&w, st->max_fs_hz);
    for (i = 0; i < st->n_ch; i++) {
        emg_writer_u8(&w, st->channels[i]);
    }
    return emg_writer_end(&w);
}

size_t emg_build_ack(uint8_t *out, size_t cap, uint16_t seq, uint8_t cmd_type,
                     uint16_t cmd_seq, uint8_t result)
{
    emg_writer_t w;
    emg_writer_begin(&w, out, cap, EMG_T_ACK, seq);
    emg_writer_u8(&w, cmd_type);
    emg_writer_u16(&w, cmd_seq);
    emg_writer_u8(&w, result);
    return emg_writer_end(&w);
}

size_t emg_build_button(uint8_t *out, size_t cap, uint16_t seq, uint8_t press, uint8_t button,
                        uint16_t held_ms, uint32_t sample)
{
    emg_writer_t w;
    emg_writer_begin(&w, out, cap, EMG_T_BUTTON, seq);
    emg_writer_u8(&w, press);
    emg_writer_u8(&w, button);
    emg_writer_u16(&w, held_ms);
    emg_writer_u32(&w, sample);
    return emg_writer_end(&w);
}

size_t emg_build_command(uint8_t *out, size_t cap, uint8_t type, uint16_t seq,
                         uint16_t arg16, uint8_t arg8)
{
    emg_writer_t w;
    emg_writer_begin(&w, out, cap, type, seq);
    if (type == EMG_T_SET_RATE) {
        emg_writer_u16(&w, arg16);
    } else if (type == EMG_T_BUZZ) {
        emg_writer_u16(&w, arg16);
        emg_writer_u8(&w, arg8);
    }
    return emg_writer_end(&w);
}

/* ------------------------------------------------------------ parsing */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)rd16(p) | ((uint32_t)rd16(p + 2) << 16);
}

/* Minimum payload length of a type, or -1 for an unknown type. Payloads may
 * be longer (fields appended within a protocol version), except DATA whose
 * length is exact. */
static int min_payload(uint8_t type)
{
    switch (type) {
    case EMG_T_DATA: return (int)EMG_DATA_FIXED;
    case EMG_T_STATUS: return (int)EMG_STATUS_FIXED;
    case EMG_T_ACK: return (int)EMG_ACK_FIXED;
    case EMG_T_BUTTON: return (int)EMG_BUTTON_FIXED;
    case EMG_T_IDENTIFY:
    case EMG_T_START:
    case EMG_T_STOP: return 0;
    case EMG_T_SET_RATE: return 2;
    case EMG_T_BUZZ: return 3;
    default: return -1;
    }
}

int emg_parse_body(const uint8_t *body, size_t len, emg_frame_t *f)
{
    uint16_t crc;
    int need;
    size_t plen;
    if (len < EMG_MIN_BODY) {
        return EMG_E_SHORT;
    }
    crc = rd16(body + len - EMG_CRC_LEN);
    if (emg_crc16(body, len - EMG_CRC_LEN) != crc) {
        return EMG_E_CRC;
    }
    if (body[0] != EMG_PROTOCOL_VERSION) {
        return EMG_E_VERSION;
    }
    need = min_payload(body[1]);
    if (need < 0) {
        return EMG_E_TYPE;
    }
    plen = len - EMG_MIN_BODY;
    if (plen < (size_t)need) {
        return EMG_E_LENGTH;
    }
    if (body[1] == EMG_T_DATA) {
        uint8_t n_ch = body[EMG_HEADER_LEN + 6], n_s = body[EMG_HEADER_LEN + 7];
        if (n_ch == 0 || n_ch > EMG_MAX_CHANNELS || n_s == 0 ||
            plen != EMG_DATA_FIXED + 2u * (size_t)n_ch * n_s) {
            return EMG_E_LENGTH;
        }
    } else if (body[1] == EMG_T_STATUS) {
        uint8_t n_ch = body[EMG_HEADER_LEN + 10];
        if (n_ch > EMG_MAX_CHANNELS || plen < EMG_STATUS_FIXED + (size_t)n_ch) {
            return EMG_E_LENGTH;
        }
    }
    f->version = body[0];
    f->type = body[1];
    f->seq = rd16(body + 2);
    f->payload = body + EMG_HEADER_LEN;
    f->payload_len = plen;
    return EMG_FRAME;
}

int emg_parse_data(const emg_frame_t *f, emg_data_t *d)
{
    const uint8_t *p = f->payload;
    if (f->type != EMG_T_DATA) {
        return EMG_E_TYPE;
    }
    d->first_sample = rd32(p);
    d->fs_hz = rd16(p + 4);
    d->n_ch = p[6];
    d->n_samples = p[7];
    d->samples = p + EMG_DATA_FIXED;
    return EMG_FRAME;
}

int16_t emg_data_sample(const emg_data_t *d, unsigned sample, unsigned ch)
{
    uint16_t u = rd16(d->samples + 2u * ((size_t)sample * d->n_ch + ch));
    /* Portable two's complement -> int16 without implementation-defined casts. */
    return (u & 0x8000u) ? (int16_t)(-(int32_t)(uint16_t)(~u) - 1) : (int16_t)u;
}

int emg_parse_status(const emg_frame_t *f, emg_status_t *st)
{
    const uint8_t *p = f->payload;
    uint8_t i;
    if (f->type != EMG_T_STATUS) {
        return EMG_E_TYPE;
    }
    st->fw_major = p[0];
    st->fw_minor = p[1];
    st->board = p[2];
    st->adc_bits = p[3];
    st->vref_mv = rd16(p + 4);
    st->raw_gain = rd16(p + 6);
    st->fs_hz = rd16(p + 8);
    st->n_ch = p[10];
    st->samples_per_frame = p[11];
    st->flags = p[12];
    st->reason = p[13];
    st->boot_id = rd32(p + 14);
    st->next_sample = rd32(p + 18);
    st->overruns = rd32(p + 22);
    st->battery_mv = rd16(p + 26);
    st->max_fs_hz = rd16(p + 28);
    for (i = 0; i < st->n_ch; i++) {
        st->channels[i] = p[EMG_STATUS_FIXED + i];
    }
    return EMG_FRAME;
}

int emg_parse_ack(const emg_frame_t *f, emg_ack_t *a)
{
    if (f->type != EMG_T_ACK) {
        return EMG_E_TYPE;
    }
    a->cmd_type = f->payload[0];
    a->cmd_seq = rd16(f->payload + 1);
    a->result = f->payload[3];
    return EMG_FRAME;
}

int emg_parse_button(const emg_frame_t *f, emg_button_frame_t *b)
{
    const uint8_t *p = f->payload;
    if (f->type != EMG_T_BUTTON) {
        return EMG_E_TYPE;
    }
    b->press = p[0];
    b->button = p[1];
    b->held_ms = rd16(p + 2);
    b->sample = rd32(p + 4);
    return EMG_FRAME;
}

int emg_parse_command(const emg_frame_t *f, emg_command_t *c)
{
    if (!(f->type & 0x80u)) {
        return EMG_E_TYPE;
    }
    c->type = f->type;
    c->seq = f->seq;
    c->fs_hz = 0;
    c->duration_ms = 0;
    c->strength = 0;
    if (f->type == EMG_T_SET_RATE) {
        c->fs_hz = rd16(f->payload);
    } else if (f->type == EMG_T_BUZZ) {
        c->duration_ms = rd16(f->payload);
        c->strength = f->payload[2];
    }
    return EMG_FRAME;
}

/* ------------------------------------------------------------ decoder */

void emg_decoder_init(emg_decoder_t *d, uint8_t *buf, size_t cap)
{
    d->buf = buf;
    d->cap = cap;
    d->len = 0;
    d->discarding = 0;
}

int emg_decoder_feed(emg_decoder_t *d, uint8_t byte, emg_frame_t *f)
{
    size_t body_len = 0;
    size_t len;
    if (byte != 0) {
        if (d->discarding) {
            return EMG_NONE;
        }
        if (d->len >= d->cap) {
            d->discarding = 1;
            d->len = 0;
            return EMG_NONE;
        }
        d->buf[d->len++] = byte;
        return EMG_NONE;
    }
    /* delimiter */
    if (d->discarding) {
        d->discarding = 0;
        return EMG_E_OVERSIZE;
    }
    len = d->len;
    d->len = 0;
    if (len == 0) {
        return EMG_NONE; /* empty frame between two delimiters */
    }
    if (len > EMG_MAX_ENCODED) {
        return EMG_E_OVERSIZE;
    }
    if (emg_cobs_decode(d->buf, len, d->buf, d->cap, &body_len) != EMG_NONE) {
        return EMG_E_COBS;
    }
    return emg_parse_body(d->buf, body_len, f);
}

/* ------------------------------------------------------------- button */

void emg_button_init(emg_button_t *b)
{
    b->raw = 0;
    b->stable = 0;
    b->long_sent = 0;
    b->raw_ms = 0;
    b->down_ms = 0;
}

static uint16_t clamp16(uint32_t v)
{
    return (uint16_t)(v > 0xFFFFu ? 0xFFFFu : v);
}

uint8_t emg_button_update(emg_button_t *b, uint8_t pressed, uint32_t now_ms, uint16_t *held_ms)
{
    uint8_t level = pressed ? 1u : 0u;
    if (level != b->raw) {
        b->raw = level;
        b->raw_ms = now_ms;
    }
    if (b->raw != b->stable && (uint32_t)(now_ms - b->raw_ms) >= EMG_BUTTON_DEBOUNCE_MS) {
        b->stable = b->raw;
        if (b->stable) {
            b->down_ms = b->raw_ms;       /* the press began at its first edge */
            b->long_sent = 0;
        } else if (!b->long_sent) {
            if (held_ms) {
                *held_ms = clamp16((uint32_t)(b->raw_ms - b->down_ms));
            }
            return EMG_PRESS_SHORT;
        }
    }
    if (b->stable && !b->long_sent && (uint32_t)(now_ms - b->down_ms) >= EMG_BUTTON_LONG_MS) {
        b->long_sent = 1;
        if (held_ms) {
            *held_ms = clamp16((uint32_t)(now_ms - b->down_ms));
        }
        return EMG_PRESS_LONG;
    }
    return EMG_PRESS_NONE;
}
