/* The collector's hot loop: a batch's Samples -> InfluxDB line protocol, as one UTF-8 body.
 *
 * collector/line_protocol.py is the definition; this module only runs its per-sample loop
 * without the interpreter, writing every line straight into one buffer. Everything that
 * needs a decision (escaping, sorting and splitting tags) stays in Python: a series or a
 * field key not seen before is handed to the Python functions that fill the caches, and
 * a value that is neither an exact int nor an exact float makes the whole batch go back
 * to the Python builder (the function returns None). The output is byte for byte what
 * "\n".join(batch_lines(batch)).encode() gives; tests/collector/test_line_protocol.py
 * checks that on generated batches.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

static PyObject *str_measurement, *str_fields, *str_tags, *str_time_ns;

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

/* An int as str() writes it. With `remember` (timestamps, which a batch's samples mostly
 * share) the digits are kept and written again while the value stays the same. */
static int
buffer_int(Buffer *buf, PyObject *number, int remember)
{
    int overflow;
    long long value = PyLong_AsLongLongAndOverflow(number, &overflow);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (overflow) {
        PyObject *text = PyObject_Str(number);
        if (text == NULL)
            return -1;
        int result = buffer_str(buf, text);
        Py_DECREF(text);
        return result;
    }
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

/* The `key=value,...` part of a sample: 1 if something was written, 0 if no field was
 * finite, -1 on error, -2 for a value type this module leaves to Python. */
static int
write_fields(Buffer *buf, PyObject *fields, PyObject *field_keys, PyObject *field_key)
{
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    int written = 0;
    while (PyDict_Next(fields, &pos, &name, &value)) {
        int is_float = PyFloat_CheckExact(value);
        if (!is_float && !PyLong_CheckExact(value))
            return -2;
        if (is_float && !isfinite(PyFloat_AS_DOUBLE(value)))
            continue;
        if (written && buffer_write(buf, ",", 1) < 0)
            return -1;
        PyObject *key = cached(field_keys, field_key, name);
        if (key == NULL)
            return -1;
        int failed = buffer_str(buf, key) < 0 || buffer_write(buf, "=", 1) < 0;
        Py_DECREF(key);
        if (failed)
            return -1;
        if (is_float) {
            if (buffer_float(buf, PyFloat_AS_DOUBLE(value)) < 0)
                return -1;
        } else if (buffer_int(buf, value, 0) < 0) {
            return -1;
        }
        written = 1;
    }
    return written;
}

/* (measurement, tag names..., tag values...): the key line_protocol._series caches by. */
static PyObject *
series_key(PyObject *measurement, PyObject *tags)
{
    Py_ssize_t count = PyDict_GET_SIZE(tags);
    PyObject *key = PyTuple_New(1 + 2 * count);
    if (key == NULL)
        return NULL;
    Py_INCREF(measurement);
    PyTuple_SET_ITEM(key, 0, measurement);
    Py_ssize_t pos = 0, index = 0;
    PyObject *name, *value;
    while (PyDict_Next(tags, &pos, &name, &value)) {
        Py_INCREF(name);
        Py_INCREF(value);
        PyTuple_SET_ITEM(key, 1 + index, name);
        PyTuple_SET_ITEM(key, 1 + count + index, value);
        index++;
    }
    return key;
}

/* One sample's line, appended after a "\n" unless it is the first: 1 written, 0 left out
 * (no finite field), -1 error, -2 leave the batch to Python. */
static int
write_sample(Buffer *buf, PyObject *sample, PyObject *const *args, int first)
{
    PyObject *agent = args[1], *site = args[2], *default_ns = args[3];
    PyObject *series = args[4], *series_parts = args[5], *field_keys = args[6], *field_key = args[7];
    Py_ssize_t start = buf->len;
    int result = -1;
    PyObject *measurement = NULL, *fields = NULL, *tags = NULL, *time_ns = NULL, *key = NULL,
             *parts = NULL;

    if ((measurement = PyObject_GetAttr(sample, str_measurement)) == NULL ||
        (fields = PyObject_GetAttr(sample, str_fields)) == NULL ||
        (tags = PyObject_GetAttr(sample, str_tags)) == NULL ||
        (time_ns = PyObject_GetAttr(sample, str_time_ns)) == NULL)
        goto done;
    if (!PyUnicode_CheckExact(measurement) || !PyDict_CheckExact(fields) || !PyDict_CheckExact(tags) ||
        !PyLong_CheckExact(time_ns)) {
        result = -2;
        goto done;
    }
    if ((key = series_key(measurement, tags)) == NULL ||
        (parts = cached(series, series_parts, key)) == NULL)
        goto done;
    if (!PyTuple_CheckExact(parts) || PyTuple_GET_SIZE(parts) != 3) {
        PyErr_SetString(PyExc_TypeError, "series parts must be a 3-tuple");
        goto done;
    }
    if ((!first && buffer_write(buf, "\n", 1) < 0) || buffer_str(buf, PyTuple_GET_ITEM(parts, 0)) < 0 ||
        buffer_str(buf, agent) < 0 || buffer_str(buf, PyTuple_GET_ITEM(parts, 1)) < 0 ||
        buffer_str(buf, site) < 0 || buffer_str(buf, PyTuple_GET_ITEM(parts, 2)) < 0 ||
        buffer_write(buf, " ", 1) < 0)
        goto done;
    result = write_fields(buf, fields, field_keys, field_key);
    if (result != 1) {
        buf->len = start; /* nothing of a sample without a finite field */
        goto done;
    }
    if (buffer_write(buf, " ", 1) < 0 ||
        buffer_int(buf, PyObject_IsTrue(time_ns) ? time_ns : default_ns, 1) < 0)
        result = -1;
done:
    Py_XDECREF(measurement);
    Py_XDECREF(fields);
    Py_XDECREF(tags);
    Py_XDECREF(time_ns);
    Py_XDECREF(key);
    Py_XDECREF(parts);
    return result;
}

PyDoc_STRVAR(samples_body_doc,
"samples_body(samples, agent, site, default_ns, series, series_parts, field_keys, field_key)\n"
"--\n\n"
"The lines of `samples` joined by newlines as UTF-8 bytes, and how many there are;\n"
"None if a sample holds something only the Python builder handles.");

static PyObject *
samples_body(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "samples_body takes 8 arguments");
        return NULL;
    }
    PyObject *samples = args[0];
    if (!PyList_CheckExact(samples) || !PyUnicode_CheckExact(args[1]) || !PyUnicode_CheckExact(args[2]) ||
        !PyLong_CheckExact(args[3]) || !PyDict_CheckExact(args[4]) || !PyDict_CheckExact(args[6])) {
        Py_RETURN_NONE;
    }
    Buffer buf = {NULL, 0, 0, 0, {0}, 0};
    Py_ssize_t lines = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(samples); i++) {
        PyObject *sample = PyList_GET_ITEM(samples, i);
        Py_INCREF(sample); /* the cache fillers run Python code */
        int result = write_sample(&buf, sample, args, lines == 0);
        Py_DECREF(sample);
        if (result < 0) {
            PyMem_Free(buf.data);
            if (result == -2)
                Py_RETURN_NONE;
            return NULL;
        }
        lines += result;
    }
    PyObject *body = PyBytes_FromStringAndSize(buf.data ? buf.data : "", buf.len);
    PyMem_Free(buf.data);
    if (body == NULL)
        return NULL;
    PyObject *answer = Py_BuildValue("(Nn)", body, lines);
    return answer;
}

static PyMethodDef methods[] = {
    {"samples_body", (PyCFunction)(void (*)(void))samples_body, METH_FASTCALL, samples_body_doc},
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
    if ((str_measurement = PyUnicode_InternFromString("measurement")) == NULL ||
        (str_fields = PyUnicode_InternFromString("fields")) == NULL ||
        (str_tags = PyUnicode_InternFromString("tags")) == NULL ||
        (str_time_ns = PyUnicode_InternFromString("time_ns")) == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
