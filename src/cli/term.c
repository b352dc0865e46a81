/* SPDX-License-Identifier: MIT */
/*
 * What an agent wrote to its terminal, made fit for ours: a terminal
 * agent's output carries the escape sequences of its screen (cursor moves,
 * screen clears, window titles, hyperlinks, colours) and control bytes. Of
 * these only colours (CSI ... m) are kept, and only when asked (stdout is
 * a terminal); every other sequence and control byte is dropped, "\r\n"
 * becomes "\n" and a lone "\r" (a progress line redrawn) starts a new
 * line. The state lives in ad_cli_term_t, so a sequence cut in two by the
 * stream is still recognised.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { T_TEXT, T_ESC, T_CSI, T_STR, T_STR_ESC, T_C1 };

void ad_cli_term_init(ad_cli_term_t *t, bool keep_colour)
{
    memset(t, 0, sizeof(*t));
    t->keep_colour = keep_colour;
}

bool ad_cli_colour_wanted(void)
{
    const char *no = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && (no == NULL || no[0] == '\0');
}

/* The end of a CSI sequence (its final byte ch): a colour one is written
 * when colours are kept, any other dropped. */
static void csi_end(ad_cli_term_t *t, unsigned char ch, FILE *out)
{
    if (ch == 'm' && t->keep_colour && !t->seq_overflow) {
        fputs("\x1b[", out);
        fwrite(t->seq, 1, t->seqlen, out);
        fputc('m', out);
        t->coloured = true;
    }
    t->state = T_TEXT;
}

static void text_byte(ad_cli_term_t *t, unsigned char ch, FILE *out)
{
    if (t->cr && ch != '\n') {
        fputc('\n', out); /* a lone \r: the line redrawn goes on a line of its own */
    }
    t->cr = false;
    if (ch == 0x1b) {
        t->state = T_ESC;
    } else if (ch == '\r') {
        t->cr = true;
    } else if (ch == 0xc2) {
        t->state = T_C1; /* maybe U+0080..U+009F, the C1 controls */
    } else if (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch != 0x7f)) {
        fputc(ch, out);
    }
}

static void esc_byte(ad_cli_term_t *t, unsigned char ch)
{
    t->seqlen = 0;
    t->seq_overflow = false;
    if (ch == '[') {
        t->state = T_CSI;
    } else if (ch == ']' || ch == 'P' || ch == 'X' || ch == '^' || ch == '_') {
        t->state = T_STR; /* OSC, DCS, SOS, PM, APC: a string up to BEL or ST */
    } else if (ch >= 0x20 && ch <= 0x2f) {
        t->state = T_ESC; /* an intermediate byte: the final one follows */
    } else {
        t->state = T_TEXT; /* a two-byte sequence (ESC 7, ESC =, ESC c...) */
    }
}

void ad_cli_term_write(ad_cli_term_t *t, const char *s, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (t->state) {
        case T_TEXT:
            text_byte(t, ch, out);
            break;
        case T_ESC:
            esc_byte(t, ch);
            break;
        case T_CSI:
            if (ch >= 0x40 && ch <= 0x7e) {
                csi_end(t, ch, out);
            } else if (ch == 0x1b) {
                t->state = T_ESC; /* a broken sequence: the next one starts */
            } else if (t->seqlen < sizeof(t->seq)) {
                t->seq[t->seqlen++] = (char)ch;
            } else {
                t->seq_overflow = true;
            }
            break;
        case T_STR:
            t->state = ch == 0x07 ? T_TEXT : ch == 0x1b ? T_STR_ESC : T_STR;
            break;
        case T_STR_ESC:
            t->state = ch == '\\' ? T_TEXT : T_STR;
            break;
        case T_C1:
            t->state = T_TEXT;
            if (ch < 0x80 || ch > 0x9f) {
                fputc(0xc2, out); /* a character of U+00A0..U+00BF */
                text_byte(t, ch, out);
            }
            break;
        }
    }
}

void ad_cli_term_finish(ad_cli_term_t *t, FILE *out)
{
    if (t->cr) {
        fputc('\n', out);
    }
    if (t->coloured) {
        fputs("\x1b[0m", out); /* no colour left on after the agent's text */
    }
    bool keep = t->keep_colour;
    ad_cli_term_init(t, keep);
}

char *ad_cli_term_clean(const char *s, bool keep_colour)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem == NULL) {
        return NULL;
    }
    ad_cli_term_t t;
    ad_cli_term_init(&t, keep_colour);
    ad_cli_term_write(&t, s, strlen(s), mem);
    if (t.cr) {
        fputc('\n', mem);
    }
    fclose(mem);
    return buf;
}
