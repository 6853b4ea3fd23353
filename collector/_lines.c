/* The collector's hot loop in C: a Batch's JSON straight to InfluxDB line protocol, as one
 * UTF-8 body (`scan_batch`, the fast lane; collector/fastlane.py calls it).
 *
 * collector/line_protocol.py is the definition; this module only runs its per-sample loop
 * without the interpreter, writing every line straight into one buffer. Everything that
 * needs a decision (escaping, sorting and splitting tags) stays in Python: a series not
 * seen before is handed to the Python function that fills the cache. The output is byte
 * for byte what line_protocol.batch_body gives for the decoded batch;
 * tests/collector/test_fast_lane.py checks that on generated, damaged and random payloads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <string.h>

typedef struct {
    char *data;
    Py_ssize_t len, cap;
    /* The last timestamp written and its digits: a batch's samples mostly share one. */
    long long time;
    char time_text[24];
    int time_len;
} Buffer;

static int
buffer_reserve(Buffer *buf, Py_ssize_t more)
{
    if (buf->len + more <= buf->cap)
        return 0;
    Py_ssize_t cap = buf->cap ? buf->cap : 4096;
    while (cap < buf->len + more)
        cap *= 2;
    char *data = PyMem_Realloc(buf->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buf->data = data;
    buf->cap = cap;
    return 0;
}

static int
buffer_write(Buffer *buf, const char *text, Py_ssize_t size)
{
    if (buffer_reserve(buf, size) < 0)
        return -1;
    memcpy(buf->data + buf->len, text, size);
    buf->len += size;
    return 0;
}

static int
buffer_str(Buffer *buf, PyObject *text)
{
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    return utf8 == NULL ? -1 : buffer_write(buf, utf8, size);
}

/* Writes the decimal digits of `value` (any sign); returns how many chars were written. */
static int
format_integer(char *out, long long value)
{
    char digits[24];
    int count = 0;
    unsigned long long magnitude = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    int size = 0;
    if (value < 0)
        out[size++] = '-';
    while (count)
        out[size++] = digits[--count];
    return size;
}

/* The digits of `value`. With `remember` (timestamps, which a batch's samples mostly
 * share) they are kept and written again while the value stays the same. */
static int
buffer_long(Buffer *buf, long long value, int remember)
{
    if (remember) {
        if (buf->time_len == 0 || value != buf->time) {
            buf->time = value;
            buf->time_len = format_integer(buf->time_text, value);
        }
        return buffer_write(buf, buf->time_text, buf->time_len);
    }
    if (buffer_reserve(buf, 24) < 0)
        return -1;
    buf->len += format_integer(buf->data + buf->len, value);
    return 0;
}

static const double POWERS_OF_TEN[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

/* A finite float as repr() writes it.
 *
 * repr() writes the shortest decimal that reads back as the same double, found with
 * David Gay's big-number algorithm (a third of this module's time). Most measured values
 * have few digits (42.0, 37.5, 0.25), and for those there is a quicker way to the same
 * text: the smallest k for which N = round(x * 10**k) gives back x as N / 10**k (both
 * powers exact, the division correctly rounded). With |N| < 10**15 no other N is that
 * close, so N is the digit string repr() picks, and it is written the way repr() writes
 * numbers from 1e-4 to 1e16: in plain notation, with ".0" if it has no fraction.
 * Everything else goes to PyOS_double_to_string, which is what repr() calls. */
static int
buffer_float(Buffer *buf, double value)
{
    double magnitude = fabs(value);
    if (value == 0.0 || (magnitude >= 1e-4 && magnitude < 1e15)) {
        for (int k = 0; k < (int)(sizeof POWERS_OF_TEN / sizeof *POWERS_OF_TEN); k++) {
            double scaled = nearbyint(magnitude * POWERS_OF_TEN[k]);
            if (scaled >= 1e15)
                break;
            if (scaled / POWERS_OF_TEN[k] != magnitude)
                continue;
            if (buffer_reserve(buf, 48) < 0)
                return -1;
            char *out = buf->data + buf->len;
            if (signbit(value))
                *out++ = '-';
            long long digits = (long long)scaled;
            long long unit = 1;
            for (int i = 0; i < k; i++)
                unit *= 10;
            out += format_integer(out, digits / unit);
            *out++ = '.';
            if (k == 0) {
                *out++ = '0';
            } else {
                long long fraction = digits % unit;
                for (int i = k - 1; i >= 0; i--) {
                    out[i] = (char)('0' + fraction % 10);
                    fraction /= 10;
                }
                out += k;
            }
            buf->len = out - buf->data;
            return 0;
        }
    }
    char *text = PyOS_double_to_string(value, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL)
        return -1;
    int result = buffer_write(buf, text, (Py_ssize_t)strlen(text));
    PyMem_Free(text);
    return result;
}

/* cache[key], or factory(key) (which fills the cache) when it is not there; a new reference. */
static PyObject *
cached(PyObject *cache, PyObject *factory, PyObject *key)
{
    PyObject *value = PyDict_GetItemWithError(cache, key);
    if (value != NULL) {
        Py_INCREF(value);
        return value;
    }
    if (PyErr_Occurred())
        return NULL;
    return PyObject_CallOneArg(factory, key);
}

/* A line's start: "\n" unless it is the first, then the cached series parts (a 3-tuple)
 * with the batch's agent and site tags between them. */
static int
write_series(Buffer *buf, PyObject *parts, PyObject *agent, PyObject *site, int first)
{
    if (!PyTuple_CheckExact(parts) || PyTuple_GET_SIZE(parts) != 3) {
        PyErr_SetString(PyExc_TypeError, "series parts must be a 3-tuple");
        return -1;
    }
    if ((!first && buffer_write(buf, "\n", 1) < 0) || buffer_str(buf, PyTuple_GET_ITEM(parts, 0)) < 0 ||
        buffer_str(buf, agent) < 0 || buffer_str(buf, PyTuple_GET_ITEM(parts, 1)) < 0 ||
        buffer_str(buf, site) < 0 || buffer_str(buf, PyTuple_GET_ITEM(parts, 2)) < 0)
        return -1;
    return 0;
}

/* ---- The fast lane: a Batch's JSON straight to line protocol ----------------------------
 *
 * Decoding a batch into Python objects (a struct, two dicts and five strings a sample)
 * and freeing them again was most of the collector's work, yet most samples are only
 * ever turned into a line. `scan_batch` reads the JSON of a Batch and writes each
 * sample's line directly, and hands back a copy of the payload that keeps only the
 * samples an observer wants (`keep`): msgspec decodes and validates that copy (the
 * header, the states, the kept samples) as it does every other message.
 *
 * It is a fast lane, not a second decoder: it takes only what it can check completely
 * against the Sample schema (names as plain ASCII names, numbers in plain JSON notation
 * within 64 bits, known keys once each), and for anything else (an escape in a name, an
 * unknown key, a big integer, bad JSON) it returns None and the caller decodes the whole
 * payload with msgspec, which also gives the reason a bad payload is dead-lettered with.
 * Tag sets are checked by msgspec too, once per distinct raw text (the series cache).
 * tests/collector/test_fast_lane.py holds both ways to the same bytes and the same Batch.
 */

typedef struct {
    const char *p, *end;
} Cursor;

#define FALLBACK (-2) /* not for the fast lane: decode it with msgspec */
#define MAX_NAME 64   /* SampleName's max_length; names are ASCII, so bytes = characters */
/* ASCII only, whatever the C locale says */
#define IS_DIGIT(ch) ((ch) >= '0' && (ch) <= '9')
#define IS_NAME_CHAR(ch) (IS_DIGIT(ch) || ((ch) >= 'a' && (ch) <= 'z') || ((ch) >= 'A' && (ch) <= 'Z') || (ch) == '_')

static void
skip_ws(Cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int
expect(Cursor *c, char ch)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch)
        return FALLBACK;
    c->p++;
    return 0;
}

/* After a member of an object or array: 1 if a ',' says another follows, 0 if `close`
 * ends it, FALLBACK for anything else. */
static int
next_member(Cursor *c, char close)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        return 1;
    }
    return expect(c, close);
}

/* The string at the cursor: [*start, *stop) is its raw text. 1 without escapes, 0 with. */
static int
scan_string(Cursor *c, const char **start, const char **stop)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"')
        return FALLBACK;
    const char *s = ++c->p;
    int plain = 1;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            *start = s;
            *stop = c->p++;
            return plain;
        }
        if (ch < 0x20)
            return FALLBACK;
        if (ch == '\\') {
            if (c->end - c->p < 2)
                return FALLBACK;
            plain = 0;
            c->p += 2;
            continue;
        }
        c->p++;
    }
    return FALLBACK;
}

/* Moves past one JSON value of any kind. Only its extent matters: values outside the
 * samples stay in the copy msgspec decodes, which judges them. */
static int
skip_value(Cursor *c, int depth)
{
    const char *a, *b;
    skip_ws(c);
    if (c->p >= c->end || depth > 32)
        return FALLBACK;
    char open = *c->p;
    if (open == '"')
        return scan_string(c, &a, &b) < 0 ? FALLBACK : 0;
    if (open == '{' || open == '[') {
        char close = open == '{' ? '}' : ']';
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 0;
        }
        int more;
        do {
            if (open == '{' && (scan_string(c, &a, &b) < 0 || expect(c, ':') < 0))
                return FALLBACK;
            if (skip_value(c, depth + 1) < 0)
                return FALLBACK;
        } while ((more = next_member(c, close)) > 0);
        return more;
    }
    const char *s = c->p;
    while (c->p < c->end && (IS_NAME_CHAR(*c->p) || *c->p == '-' || *c->p == '+' || *c->p == '.'))
        c->p++;
    return c->p > s ? 0 : FALLBACK;
}

/* Powers of ten that are exact doubles. */
static const double EXACT_POWERS[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* A JSON number in strict notation. Integers (no fraction, no exponent) within 64 bits
 * set *is_int and *integer; others set *real, correctly rounded as msgspec does: with at
 * most 15 significant digits and a decimal exponent within 22, digits and power of ten
 * are both exact doubles and one division or multiplication rounds correctly (Clinger's
 * fast path, which strtod takes too); other numbers go to CPython's strtod. */
static int
scan_number(Cursor *c, int *is_int, long long *integer, double *real)
{
    skip_ws(c);
    const char *s = c->p;
    int negative = 0, digits = 0, fraction = 0, exponent_digits = 0, significant = 0, exponent = 0;
    unsigned long long value = 0, mantissa = 0;
    if (c->p < c->end && *c->p == '-') {
        negative = 1;
        c->p++;
    }
    if (c->p >= c->end || !IS_DIGIT(*c->p))
        return FALLBACK;
    if (*c->p == '0') {
        c->p++;
        digits = 1;
        if (c->p < c->end && IS_DIGIT(*c->p))
            return FALLBACK; /* a leading zero is not JSON */
    } else {
        while (c->p < c->end && IS_DIGIT(*c->p)) {
            if (++digits > 19)
                return FALLBACK;
            value = value * 10 + (unsigned long long)(*c->p++ - '0');
        }
        mantissa = value;
        significant = digits;
    }
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        while (c->p < c->end && IS_DIGIT(*c->p)) {
            int digit = *c->p++ - '0';
            fraction++;
            if (significant || digit) {
                if (++significant <= 19)
                    mantissa = mantissa * 10 + (unsigned long long)digit;
            }
        }
        if (fraction == 0)
            return FALLBACK;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        int sign = 1;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            sign = *c->p++ == '-' ? -1 : 1;
        while (c->p < c->end && IS_DIGIT(*c->p)) {
            if (++exponent_digits > 3)
                return FALLBACK;
            exponent = exponent * 10 + (*c->p++ - '0');
        }
        if (exponent_digits == 0)
            return FALLBACK;
        exponent *= sign;
    }
    if (!fraction && !exponent_digits) {
        if (value > (unsigned long long)LLONG_MAX)
            return FALLBACK; /* beyond 64 bits: msgspec's */
        *is_int = 1;
        *integer = negative ? -(long long)value : (long long)value;
        return 0;
    }
    *is_int = 0;
    int scale = exponent - fraction;
    if (significant <= 15 && scale >= -22 && scale <= 22) {
        double exact = (double)mantissa;
        exact = scale < 0 ? exact / EXACT_POWERS[-scale] : exact * EXACT_POWERS[scale];
        *real = negative ? -exact : exact;
        return 0;
    }
    char text[64];
    Py_ssize_t size = c->p - s;
    if (size >= (Py_ssize_t)sizeof text)
        return FALLBACK;
    memcpy(text, s, size);
    text[size] = '\0';
    char *stop;
    double parsed = PyOS_string_to_double(text, &stop, NULL);
    if (parsed == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return FALLBACK;
    }
    if (stop != text + size || !isfinite(parsed) || (parsed == 0.0 && significant))
        return FALLBACK; /* overflow and underflow are msgspec's to judge */
    *real = parsed;
    return 0;
}

/* A plain string that is a Name: [A-Za-z_][A-Za-z0-9_]*, at most 64 characters. */
static int
scan_name(Cursor *c, const char **start, const char **stop)
{
    if (scan_string(c, start, stop) != 1)
        return FALLBACK;
    Py_ssize_t size = *stop - *start;
    if (size < 1 || size > MAX_NAME || IS_DIGIT(**start))
        return FALLBACK;
    for (const char *q = *start; q < *stop; q++)
        if (!IS_NAME_CHAR(*q))
            return FALLBACK;
    return 0;
}

static int
same_text(const char *a, Py_ssize_t a_size, const char *b, Py_ssize_t b_size)
{
    return a_size == b_size && memcmp(a, b, a_size) == 0;
}

/* Is "measurement\0field" one of the `keep` entries (a tuple of bytes)? */
static int
wanted(PyObject *keep, const char *m, Py_ssize_t m_size, const char *f, Py_ssize_t f_size)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keep); i++) {
        PyObject *entry = PyTuple_GET_ITEM(keep, i);
        const char *text = PyBytes_AS_STRING(entry);
        if (PyBytes_GET_SIZE(entry) == m_size + 1 + f_size && memcmp(text, m, m_size) == 0 &&
            text[m_size] == '\0' && memcmp(text + m_size + 1, f, f_size) == 0)
            return 1;
    }
    return 0;
}

typedef struct {
    PyObject *agent, *site;             /* the escaped ",agent_id=..." and ",site=..." */
    long long created_ns;
    PyObject *keep, *series, *series_parts;
} Lane;

#define MAX_FIELDS 32

/* One sample object: its line is appended to `buf` (after "\n" unless it is the first,
 * nothing if it has no field); *kept says whether an observer wants it. 1 a line was
 * written, 0 none, -1 error, FALLBACK. */
static int
lane_sample(Cursor *c, Buffer *buf, Lane *lane, int first, int *kept)
{
    const char *measurement = NULL, *measurement_end = NULL, *tags = NULL, *tags_end = NULL;
    const char *names[MAX_FIELDS], *names_end[MAX_FIELDS];
    int is_int[MAX_FIELDS];
    long long integers[MAX_FIELDS];
    double reals[MAX_FIELDS];
    int fields = -1;
    long long time_ns = 0;
    int seen_time = 0;
    const char *key, *key_end;

    if (expect(c, '{') < 0)
        return FALLBACK;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}')
        return FALLBACK; /* measurement and fields are required */
    int more;
    do {
        if (scan_string(c, &key, &key_end) != 1 || expect(c, ':') < 0)
            return FALLBACK;
        Py_ssize_t size = key_end - key;
        if (same_text(key, size, "measurement", 11) && measurement == NULL) {
            if (scan_name(c, &measurement, &measurement_end) < 0)
                return FALLBACK;
        } else if (same_text(key, size, "fields", 6) && fields < 0) {
            fields = 0;
            if (expect(c, '{') < 0)
                return FALLBACK;
            skip_ws(c);
            if (c->p < c->end && *c->p == '}') {
                c->p++;
            } else {
                int more_fields;
                do {
                    if (fields == MAX_FIELDS)
                        return FALLBACK;
                    if (scan_name(c, &names[fields], &names_end[fields]) < 0 || expect(c, ':') < 0 ||
                        scan_number(c, &is_int[fields], &integers[fields], &reals[fields]) < 0)
                        return FALLBACK;
                    for (int i = 0; i < fields; i++) /* a repeated name: msgspec keeps the last */
                        if (same_text(names[i], names_end[i] - names[i], names[fields],
                                      names_end[fields] - names[fields]))
                            return FALLBACK;
                    fields++;
                } while ((more_fields = next_member(c, '}')) > 0);
                if (more_fields < 0)
                    return FALLBACK;
            }
        } else if (same_text(key, size, "tags", 4) && tags == NULL) {
            skip_ws(c);
            tags = c->p;
            if (c->p >= c->end || *c->p != '{' || skip_value(c, 0) < 0)
                return FALLBACK;
            tags_end = c->p;
        } else if (same_text(key, size, "time_ns", 7) && !seen_time) {
            int integral;
            double unused;
            if (scan_number(c, &integral, &time_ns, &unused) < 0 || !integral || time_ns < 0)
                return FALLBACK;
            seen_time = 1;
        } else {
            return FALLBACK; /* an unknown or repeated key: msgspec says which */
        }
    } while ((more = next_member(c, '}')) > 0);
    if (more < 0 || measurement == NULL || fields < 0)
        return FALLBACK;

    Py_ssize_t m_size = measurement_end - measurement;
    *kept = 0;
    for (int i = 0; i < fields && !*kept; i++)
        *kept = wanted(lane->keep, measurement, m_size, names[i], names_end[i] - names[i]);

    /* The series: measurement and raw tags text, which the Python side checks and splits once. */
    Py_ssize_t t_size = tags ? tags_end - tags : 0;
    PyObject *series_key = PyBytes_FromStringAndSize(NULL, m_size + 1 + t_size);
    if (series_key == NULL)
        return -1;
    char *k = PyBytes_AS_STRING(series_key);
    memcpy(k, measurement, m_size);
    k[m_size] = '\0';
    if (t_size)
        memcpy(k + m_size + 1, tags, t_size);
    PyObject *parts = cached(lane->series, lane->series_parts, series_key);
    Py_DECREF(series_key);
    if (parts == NULL)
        return -1;
    if (parts == Py_None) {
        Py_DECREF(parts);
        return FALLBACK; /* the tags are not valid: msgspec gives the reason */
    }
    int failed = fields > 0 && write_series(buf, parts, lane->agent, lane->site, first) < 0;
    Py_DECREF(parts);
    if (failed)
        return -1;
    if (fields == 0)
        return 0; /* no line, but its tags had to pass */
    for (int i = 0; i < fields; i++) {
        if (buffer_write(buf, i ? "," : " ", 1) < 0 || buffer_write(buf, names[i], names_end[i] - names[i]) < 0 ||
            buffer_write(buf, "=", 1) < 0)
            return -1;
        if (is_int[i] ? buffer_long(buf, integers[i], 0) < 0 : buffer_float(buf, reals[i]) < 0)
            return -1;
    }
    if (buffer_write(buf, " ", 1) < 0 || buffer_long(buf, time_ns ? time_ns : lane->created_ns, 1) < 0)
        return -1;
    return 1;
}

/* The samples array: lines into `body`, the kept samples' text into `reduced`. */
static int
lane_samples(Cursor *c, Buffer *body, Buffer *reduced, Lane *lane, Py_ssize_t max_samples,
             Py_ssize_t *lines, Py_ssize_t *samples, Py_ssize_t *kept_count)
{
    if (expect(c, '[') < 0)
        return FALLBACK;
    if (buffer_write(reduced, "[", 1) < 0)
        return -1;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return buffer_write(reduced, "]", 1);
    }
    int more;
    do {
        if (++*samples > max_samples)
            return FALLBACK;
        skip_ws(c);
        const char *start = c->p;
        int kept = 0;
        int result = lane_sample(c, body, lane, *lines == 0, &kept);
        if (result < 0)
            return result;
        *lines += result;
        if (kept) {
            if ((*kept_count && buffer_write(reduced, ",", 1) < 0) || buffer_write(reduced, start, c->p - start) < 0)
                return -1;
            ++*kept_count;
        }
    } while ((more = next_member(c, ']')) > 0);
    return more < 0 ? FALLBACK : buffer_write(reduced, "]", 1);
}

/* The escaped agent and site tags (lane->agent, lane->site) and the agent_id and site as
 * strings, from Python's batch_tags(agent_id, site): 0, -1 error, FALLBACK if not UTF-8. */
static int
lane_tags(Lane *lane, PyObject *batch_tags, const char *agent, const char *agent_end, const char *site,
          const char *site_end, PyObject **agent_text, PyObject **site_text)
{
    PyObject *tags = PyObject_CallFunction(batch_tags, "s#s#", agent, agent_end - agent, site, site_end - site);
    if (tags == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return -1;
        PyErr_Clear(); /* not UTF-8: msgspec says so */
        return FALLBACK;
    }
    if (!PyTuple_CheckExact(tags) || PyTuple_GET_SIZE(tags) != 4 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(tags, 0)) ||
        !PyUnicode_CheckExact(PyTuple_GET_ITEM(tags, 1))) {
        Py_DECREF(tags);
        PyErr_SetString(PyExc_TypeError, "batch_tags must give 4 strings");
        return -1;
    }
    lane->agent = Py_NewRef(PyTuple_GET_ITEM(tags, 0));
    lane->site = Py_NewRef(PyTuple_GET_ITEM(tags, 1));
    *agent_text = Py_NewRef(PyTuple_GET_ITEM(tags, 2));
    *site_text = Py_NewRef(PyTuple_GET_ITEM(tags, 3));
    Py_DECREF(tags);
    return 0;
}

PyDoc_STRVAR(scan_batch_doc,
"scan_batch(payload, keep, batch_tags, series, series_parts, max_samples)\n"
"--\n\n"
"(body, lines, samples, reduced, kept, agent_id, site, created_ns) for the JSON of a Batch, or\n"
"None when it is not for the fast lane. `reduced` is the payload holding only the samples\n"
"with a field named in `keep` (bytes b'measurement\\0field').");

static PyObject *
scan_batch(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "scan_batch takes 6 arguments");
        return NULL;
    }
    PyObject *payload = args[0], *keep = args[1], *batch_tags = args[2];
    Py_ssize_t max_samples = PyLong_AsSsize_t(args[5]);
    if (max_samples == -1 && PyErr_Occurred())
        return NULL;
    if (!PyBytes_CheckExact(payload) || !PyTuple_CheckExact(keep) || !PyDict_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "scan_batch: bytes, tuple of bytes, callable, dict, callable, int");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keep); i++)
        if (!PyBytes_CheckExact(PyTuple_GET_ITEM(keep, i))) {
            PyErr_SetString(PyExc_TypeError, "scan_batch: keep must hold bytes");
            return NULL;
        }
    Cursor c = {PyBytes_AS_STRING(payload), PyBytes_AS_STRING(payload) + PyBytes_GET_SIZE(payload)};
    Buffer body = {NULL, 0, 0, 0, {0}, 0}, reduced = {NULL, 0, 0, 0, {0}, 0};
    Lane lane = {NULL, NULL, 0, keep, args[3], args[4]};
    const char *agent = NULL, *agent_end = NULL, *site = "", *site_end = site, *key, *key_end;
    const char *rest = NULL; /* where the samples array ended: the copy takes the payload from there */
    int seen_created = 0, seen_site = 0, result = FALLBACK;
    Py_ssize_t lines = 0, samples = 0, kept = 0;
    PyObject *answer = NULL, *agent_text = NULL, *site_text = NULL;

    if (expect(&c, '{') < 0)
        goto done;
    int more;
    do {
        if (scan_string(&c, &key, &key_end) != 1 || expect(&c, ':') < 0)
            goto done;
        Py_ssize_t size = key_end - key;
        /* agent_id, created_ns and site come before the samples (msgspec writes struct fields
         * in order) and each once; any of them again, or after, is msgspec's to judge */
        if (same_text(key, size, "samples", 7)) {
            if (rest != NULL || agent == NULL || !seen_created)
                goto done;
            if (buffer_write(&reduced, PyBytes_AS_STRING(payload), c.p - PyBytes_AS_STRING(payload)) < 0)
                goto error;
            int status = lane_tags(&lane, batch_tags, agent, agent_end, site, site_end, &agent_text, &site_text);
            if (status == 0)
                status = lane_samples(&c, &body, &reduced, &lane, max_samples, &lines, &samples, &kept);
            if (status == -1)
                goto error;
            if (status < 0)
                goto done;
            rest = c.p;
        } else if (same_text(key, size, "agent_id", 8)) {
            if (agent != NULL || rest != NULL || scan_string(&c, &agent, &agent_end) != 1)
                goto done;
        } else if (same_text(key, size, "site", 4)) {
            if (seen_site || rest != NULL || scan_string(&c, &site, &site_end) != 1)
                goto done;
            seen_site = 1;
        } else if (same_text(key, size, "created_ns", 10)) {
            int integral;
            double unused;
            if (seen_created || rest != NULL || scan_number(&c, &integral, &lane.created_ns, &unused) < 0 ||
                !integral || lane.created_ns < 0)
                goto done;
            seen_created = 1;
        } else if (skip_value(&c, 0) < 0) {
            goto done;
        }
    } while ((more = next_member(&c, '}')) > 0);
    skip_ws(&c);
    if (more < 0 || c.p != c.end || rest == NULL)
        goto done; /* not an object, trailing text, or no samples: nothing to win here */
    if (buffer_write(&reduced, rest, c.end - rest) < 0)
        goto error;
    result = 0;
done:
    if (result == 0) {
        PyObject *body_bytes = PyBytes_FromStringAndSize(body.data ? body.data : "", body.len);
        PyObject *reduced_bytes = body_bytes ? PyBytes_FromStringAndSize(reduced.data, reduced.len) : NULL;
        if (body_bytes && reduced_bytes)
            answer = Py_BuildValue("(NnnNnOOL)", body_bytes, lines, samples, reduced_bytes, kept, agent_text,
                                   site_text, lane.created_ns);
        else
            Py_XDECREF(body_bytes);
    } else {
        answer = Py_None;
        Py_INCREF(answer);
    }
error:
    PyMem_Free(body.data);
    PyMem_Free(reduced.data);
    Py_XDECREF(lane.agent);
    Py_XDECREF(lane.site);
    Py_XDECREF(agent_text);
    Py_XDECREF(site_text);
    return answer;
}

static PyMethodDef methods[] = {
    {"scan_batch", (PyCFunction)(void (*)(void))scan_batch, METH_FASTCALL, scan_batch_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "collector._lines",
    "Line protocol for the collector's hot path (see collector/line_protocol.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__lines(void)
{
    return PyModule_Create(&module_def);
}
