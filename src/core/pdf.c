/* SPDX-License-Identifier: MIT */
/*
 * A one-page PDF 1.4 document holding a title and a text table (the stats
 * exports): a catalog, a page tree with one A4 page, the standard Courier
 * font (no font file: every PDF reader has it) and one content stream,
 * with the cross-reference table a reader needs. Text only; characters
 * outside printable ASCII become '?'. Any thread.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

#define PDF_ROWS_MAX 60    /* what fits on the page at 9 pt */
#define PDF_LINE_CHARS 100 /* Courier 9 pt across A4 with margins */
#define PDF_COL_MAX 28     /* a cell is cut to this */

/* Appends s to out as the inside of a PDF literal string. */
static int put_escaped(ad_buf_t *out, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '(' || c == ')' || c == '\\') {
            rc = ad_buf_putc(out, '\\');
            rc = rc != 0 ? rc : ad_buf_putc(out, (char)c);
        } else {
            rc = ad_buf_putc(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
        }
    }
    return rc;
}

/* One text line at (x, y). */
static int put_line(ad_buf_t *out, int x, int y, const char *s, size_t n)
{
    int rc = ad_buf_printf(out, "BT /F1 9 Tf %d %d Td (", x, y);
    rc = rc != 0 ? rc : put_escaped(out, s, n);
    return rc != 0 ? rc : ad_buf_printf(out, ") Tj ET\n");
}

/* The widths of the columns: the longest cell of each, cut to fit. */
static void col_widths(const char *const *head, size_t ncols, const char *const *cells,
                       size_t nrows, size_t *w)
{
    for (size_t c = 0; c < ncols; c++) {
        w[c] = strlen(head[c]);
        for (size_t r = 0; r < nrows; r++) {
            size_t l = strlen(cells[r * ncols + c] != NULL ? cells[r * ncols + c] : "");
            w[c] = l > w[c] ? l : w[c];
        }
        w[c] = w[c] > PDF_COL_MAX ? PDF_COL_MAX : w[c];
    }
}

/* One row as a line of padded columns into line[PDF_LINE_CHARS + 1]. */
static size_t row_text(const char *const *row, size_t ncols, const size_t *w, char *line)
{
    size_t off = 0;
    for (size_t c = 0; c < ncols && off < PDF_LINE_CHARS; c++) {
        const char *v = row[c] != NULL ? row[c] : "";
        size_t l = strlen(v);
        l = l > w[c] ? w[c] : l;
        for (size_t i = 0; i < w[c] + 2 && off < PDF_LINE_CHARS; i++) {
            line[off++] = i < l ? v[i] : ' ';
        }
    }
    line[off] = '\0';
    return off;
}

static int content(ad_buf_t *s, const char *title, const char *const *head, size_t ncols,
                   const char *const *cells, size_t nrows)
{
    size_t w[32];
    if (ncols == 0 || ncols > AD_ARRAY_LEN(w)) {
        return AD_EINVAL;
    }
    col_widths(head, ncols, cells, nrows, w);
    char line[PDF_LINE_CHARS + 1];
    int rc = ad_buf_printf(s, "BT /F1 14 Tf 40 800 Td (");
    rc = rc != 0 ? rc : put_escaped(s, title, strlen(title));
    rc = rc != 0 ? rc : ad_buf_printf(s, ") Tj ET\n");
    int y = 770;
    size_t n = row_text(head, ncols, w, line);
    rc = rc != 0 ? rc : put_line(s, 40, y, line, n);
    rc = rc != 0 ? rc : ad_buf_printf(s, "40 %d m 555 %d l S\n", y - 4, y - 4);
    for (size_t r = 0; r < nrows && r < PDF_ROWS_MAX && rc == 0; r++) {
        y -= 12;
        n = row_text(cells + r * ncols, ncols, w, line);
        rc = put_line(s, 40, y, line, n);
    }
    if (rc == 0 && nrows > PDF_ROWS_MAX) {
        n = (size_t)snprintf(line, sizeof(line), "... and %zu more rows (the CSV export has all)",
                             nrows - PDF_ROWS_MAX);
        rc = put_line(s, 40, y - 12, line, n);
    }
    return rc;
}

int ad_pdf_table(ad_buf_t *out, const char *title, const char *const *head, size_t ncols,
                 const char *const *cells, size_t nrows)
{
    ad_buf_t stream;
    ad_buf_init(&stream, 1 << 20);
    int rc = content(&stream, title, head, ncols, cells, nrows);
    size_t off[6];
    static const char *const objs[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R "
        ">> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>",
    };
    rc = rc != 0 ? rc : ad_buf_printf(out, "%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n");
    for (size_t i = 0; i < AD_ARRAY_LEN(objs) && rc == 0; i++) {
        off[i + 1] = out->len;
        rc = ad_buf_printf(out, "%zu 0 obj\n%s\nendobj\n", i + 1, objs[i]);
    }
    off[5] = out->len;
    rc = rc != 0 ? rc : ad_buf_printf(out, "5 0 obj\n<< /Length %zu >>\nstream\n", stream.len);
    rc = rc != 0 ? rc : ad_buf_append(out, stream.data != NULL ? stream.data : "", stream.len);
    rc = rc != 0 ? rc : ad_buf_printf(out, "\nendstream\nendobj\n");
    size_t xref = out->len;
    rc = rc != 0 ? rc : ad_buf_printf(out, "xref\n0 6\n0000000000 65535 f \n");
    for (size_t i = 1; i <= 5 && rc == 0; i++) {
        rc = ad_buf_printf(out, "%010zu 00000 n \n", off[i]);
    }
    rc = rc != 0 ? rc
                 : ad_buf_printf(
                       out, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
    ad_buf_cleanup(&stream);
    return rc;
}
