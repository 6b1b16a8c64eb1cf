/*
 * Host test harness for emgframe.c (built with gcc by tests/bridge/test_c_core.py).
 *
 * Reads commands on stdin, one per line, writes results on stdout:
 *
 *   crc HEX                       -> crc XXXX
 *   cobs_enc HEX                  -> enc HEX
 *   cobs_dec HEX                  -> dec HEX | dec ERR
 *   data SEQ FIRST FS NCH NS V... -> wire HEX          (emg_build_data)
 *   status SEQ FWMAJ FWMIN BOARD BITS VREF GAIN FS NCH SPF FLAGS REASON BOOT NEXT OVR BATT MAXFS CH...
 *                                 -> wire HEX          (emg_build_status)
 *   ack SEQ CMDTYPE CMDSEQ RESULT -> wire HEX
 *   cmd TYPE SEQ ARG16 ARG8       -> wire HEX
 *   button SEQ PRESS BUTTON HELD SAMPLE -> wire HEX  (emg_build_button)
 *   debounce MS:LEVEL MS:LEVEL ...  -> "press KIND HELD MS" per press emg_button_update
 *                                      reports for the (time, level) readings, then "end"
 *   stream HEX                    -> one line per decoder event, then "end":
 *        error CODE
 *        data SEQ FIRST FS NCH NS V...
 *        status SEQ <fields as above>
 *        ack SEQ CMDTYPE CMDSEQ RESULT
 *        cmd TYPE SEQ FS DURATION STRENGTH
 *        button SEQ PRESS BUTTON HELD SAMPLE
 *
 * HEX "-" is the empty string. Numbers are decimal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emgframe.h"

#define LINE_MAX_CHARS 262144
static char line[LINE_MAX_CHARS];
static uint8_t bytes[LINE_MAX_CHARS / 2];
static uint8_t out[LINE_MAX_CHARS];

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t parse_hex(const char *s, uint8_t *dst)
{
    size_t n = 0;
    if (strcmp(s, "-") == 0) return 0;
    while (s[0] && s[1]) {
        int hi = hexval(s[0]), lo = hexval(s[1]);
        if (hi < 0 || lo < 0) break;
        dst[n++] = (uint8_t)(hi * 16 + lo);
        s += 2;
    }
    return n;
}

static void print_hex(const char *tag, const uint8_t *p, size_t n)
{
    size_t i;
    printf("%s ", tag);
    if (n == 0) printf("-");
    for (i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

static long next_num(char **cursor)
{
    char *end;
    long v = strtol(*cursor, &end, 10);
    *cursor = end;
    return v;
}

static void print_status(const emg_status_t *st)
{
    unsigned i;
    printf(" %u %u %u %u %u %u %u %u %u %u %u %lu %lu %lu %u %u", st->fw_major, st->fw_minor,
           st->board, st->adc_bits, st->vref_mv, st->raw_gain, st->fs_hz, st->n_ch,
           st->samples_per_frame, st->flags, st->reason, (unsigned long)st->boot_id,
           (unsigned long)st->next_sample, (unsigned long)st->overruns, st->battery_mv,
           st->max_fs_hz);
    for (i = 0; i < st->n_ch; i++) printf(" %u", st->channels[i]);
    printf("\n");
}

static void report_frame(const emg_frame_t *f)
{
    unsigned i, c;
    if (f->type == EMG_T_DATA) {
        emg_data_t d;
        emg_parse_data(f, &d);
        printf("data %u %lu %u %u %u", f->seq, (unsigned long)d.first_sample, d.fs_hz, d.n_ch,
               d.n_samples);
        for (i = 0; i < d.n_samples; i++)
            for (c = 0; c < d.n_ch; c++) printf(" %d", emg_data_sample(&d, i, c));
        printf("\n");
    } else if (f->type == EMG_T_STATUS) {
        emg_status_t st;
        emg_parse_status(f, &st);
        printf("status %u", f->seq);
        print_status(&st);
    } else if (f->type == EMG_T_ACK) {
        emg_ack_t a;
        emg_parse_ack(f, &a);
        printf("ack %u %u %u %u\n", f->seq, a.cmd_type, a.cmd_seq, a.result);
    } else if (f->type == EMG_T_BUTTON) {
        emg_button_frame_t b;
        emg_parse_button(f, &b);
        printf("button %u %u %u %u %lu\n", f->seq, b.press, b.button, b.held_ms,
               (unsigned long)b.sample);
    } else {
        emg_command_t cmd;
        emg_parse_command(f, &cmd);
        printf("cmd %u %u %u %u %u\n", cmd.type, cmd.seq, cmd.fs_hz, cmd.duration_ms,
               cmd.strength);
    }
}

int main(void)
{
    static int16_t samples[EMG_MAX_BODY];
    static uint8_t decbuf[EMG_MAX_ENCODED];
    while (fgets(line, sizeof line, stdin)) {
        char *nl = strchr(line, '\n');
        char *arg = strchr(line, ' ');
        size_t n, i;
        if (nl) *nl = 0;
        if (!arg) continue;
        *arg++ = 0;
        if (strcmp(line, "crc") == 0) {
            n = parse_hex(arg, bytes);
            printf("crc %04x\n", emg_crc16(bytes, n));
        } else if (strcmp(line, "cobs_enc") == 0) {
            n = parse_hex(arg, bytes);
            print_hex("enc", out, emg_cobs_encode(bytes, n, out, sizeof out));
        } else if (strcmp(line, "cobs_dec") == 0) {
            size_t got = 0;
            n = parse_hex(arg, bytes);
            /* decode in place, as the firmware decoder does */
            if (emg_cobs_decode(bytes, n, bytes, n, &got) == EMG_NONE) print_hex("dec", bytes, got);
            else printf("dec ERR\n");
        } else if (strcmp(line, "data") == 0) {
            uint16_t seq = (uint16_t)next_num(&arg);
            uint32_t first = (uint32_t)strtoul(arg, &arg, 10);
            uint16_t fs = (uint16_t)next_num(&arg);
            uint8_t nch = (uint8_t)next_num(&arg), ns = (uint8_t)next_num(&arg);
            for (i = 0; i < (size_t)nch * ns && i < EMG_MAX_BODY; i++)
                samples[i] = (int16_t)next_num(&arg);
            print_hex("wire", out, emg_build_data(out, EMG_MAX_WIRE, seq, first, fs, nch, ns, samples));
        } else if (strcmp(line, "status") == 0) {
            emg_status_t st;
            uint16_t seq = (uint16_t)next_num(&arg);
            memset(&st, 0, sizeof st);
            st.fw_major = (uint8_t)next_num(&arg);
            st.fw_minor = (uint8_t)next_num(&arg);
            st.board = (uint8_t)next_num(&arg);
            st.adc_bits = (uint8_t)next_num(&arg);
            st.vref_mv = (uint16_t)next_num(&arg);
            st.raw_gain = (uint16_t)next_num(&arg);
            st.fs_hz = (uint16_t)next_num(&arg);
            st.n_ch = (uint8_t)next_num(&arg);
            st.samples_per_frame = (uint8_t)next_num(&arg);
            st.flags = (uint8_t)next_num(&arg);
            st.reason = (uint8_t)next_num(&arg);
            st.boot_id = (uint32_t)strtoul(arg, &arg, 10);
            st.next_sample = (uint32_t)strtoul(arg, &arg, 10);
            st.overruns = (uint32_t)strtoul(arg, &arg, 10);
            st.battery_mv = (uint16_t)next_num(&arg);
            st.max_fs_hz = (uint16_t)next_num(&arg);
            for (i = 0; i < st.n_ch && i < EMG_MAX_CHANNELS; i++)
                st.channels[i] = (uint8_t)next_num(&arg);
            print_hex("wire", out, emg_build_status(out, EMG_MAX_WIRE, seq, &st));
        } else if (strcmp(line, "ack") == 0) {
            uint16_t seq = (uint16_t)next_num(&arg);
            uint8_t type = (uint8_t)next_num(&arg);
            uint16_t cseq = (uint16_t)next_num(&arg);
            uint8_t res = (uint8_t)next_num(&arg);
            print_hex("wire", out, emg_build_ack(out, EMG_MAX_WIRE, seq, type, cseq, res));
        } else if (strcmp(line, "cmd") == 0) {
            uint8_t type = (uint8_t)next_num(&arg);
            uint16_t seq = (uint16_t)next_num(&arg);
            uint16_t a16 = (uint16_t)next_num(&arg);
            uint8_t a8 = (uint8_t)next_num(&arg);
            print_hex("wire", out, emg_build_command(out, EMG_MAX_WIRE, type, seq, a16, a8));
        } else if (strcmp(line, "button") == 0) {
            uint16_t seq = (uint16_t)next_num(&arg);
            uint8_t press = (uint8_t)next_num(&arg);
            uint8_t button = (uint8_t)next_num(&arg);
            uint16_t held = (uint16_t)next_num(&arg);
            uint32_t sample = (uint32_t)strtoul(arg, &arg, 10);
            print_hex("wire", out, emg_build_button(out, EMG_MAX_WIRE, seq, press, button, held, sample));
        } else if (strcmp(line, "debounce") == 0) {
            emg_button_t btn;
            emg_button_init(&btn);
            while (*arg) {
                char *end;
                uint32_t ms = (uint32_t)strtoul(arg, &end, 10);
                uint16_t held = 0;
                uint8_t kind;
                if (end == arg || *end != ':') break;
                arg = end + 1;
                kind = emg_button_update(&btn, (uint8_t)next_num(&arg), ms, &held);
                if (kind != EMG_PRESS_NONE) printf("press %u %u %lu\n", kind, held, (unsigned long)ms);
                while (*arg == ' ') arg++;
            }
            printf("end\n");
        } else if (strcmp(line, "stream") == 0) {
            emg_decoder_t dec;
            emg_frame_t f;
            emg_decoder_init(&dec, decbuf, sizeof decbuf);
            n = parse_hex(arg, bytes);
            for (i = 0; i < n; i++) {
                int r = emg_decoder_feed(&dec, bytes[i], &f);
                if (r == EMG_FRAME) report_frame(&f);
                else if (r < 0) printf("error %d\n", r);
            }
            printf("end\n");
        } else {
            printf("unknown %s\n", line);
        }
        fflush(stdout);
    }
    return 0;
}
