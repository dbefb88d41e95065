/* peer: libzmq's peer in the comparison. Same command line, markers and
 * output lines as the Go peers (see bench/internal/proto/proto.go):
 *
 *   peer recv|send|both pushpull|pubsub|reqrep ENDPOINT SIZE SECONDS HWM
 *        [fresh=1] [delay_us=N] [nodrop=1]
 *
 * The sender builds each message as libzmq's own perf/remote_thr does
 * (zmq_msg_init_size, then only the marker bytes are written); fresh=1 also
 * fills the whole buffer. Built by bench/cmd/compare:
 *   gcc -O2 -pthread -o bin/peer-libzmq c/peer.c -lzmq */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { KIND_DATA = 0x00, KIND_WARM = 'W', KIND_END = 0xFF, MIN_SIZE = 9 };
enum { WARMUP_RT = 1000, CHECK_EVERY = 64, MAX_SAMPLES = 4 << 20 };

typedef struct {
    const char *role, *pattern, *endpoint;
    size_t size;
    double secs;
    int hwm, fresh, delay_us, nodrop;
} args_t;

static void *ctx;
static args_t A;

/* Control: in a separate process stdin says GO and then ends (EOF); with
 * role both the receiver thread sets these flags. */
static int both;
static atomic_int go_flag, stop_flag;
static char ready_ep[256];
static atomic_int ready_flag;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void die(const char *what) {
    fprintf(stderr, "peer-libzmq: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* wait_ms waits up to ms for control input and updates the flags. */
static void wait_ms(int ms) {
    if (both) {
        sleep_us(ms * 1000L);
        return;
    }
    struct pollfd p = {0, POLLIN, 0};
    if (poll(&p, 1, ms) > 0) {
        char buf[256];
        ssize_t r = read(0, buf, sizeof buf);
        if (r <= 0) {
            atomic_store(&go_flag, 1);
            atomic_store(&stop_flag, 1);
        } else if (memmem(buf, (size_t)r, "GO", 2)) {
            atomic_store(&go_flag, 1);
        }
    }
}

static void set_hwm(void *s) {
    if (zmq_setsockopt(s, ZMQ_SNDHWM, &A.hwm, sizeof A.hwm) != 0) die("sndhwm");
    if (zmq_setsockopt(s, ZMQ_RCVHWM, &A.hwm, sizeof A.hwm) != 0) die("rcvhwm");
}

static void ready(void *s) {
    char ep[256];
    size_t eplen = sizeof ep;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0) die("last endpoint");
    if (both) {
        snprintf(ready_ep, sizeof ready_ep, "%s", ep);
        atomic_store(&ready_flag, 1);
    } else {
        out("READY %s", ep);
    }
}

static void throughput(uint64_t n, double el, uint64_t sent) {
    double rate = (n > 1 && el > 0) ? (double)(n - 1) / el : 0;
    out("RESULT rate=%.0f mbps=%.1f msgs=%llu sent=%llu lost=%llu secs=%.4f", rate,
        rate * (double)A.size / 1e6, (unsigned long long)n, (unsigned long long)sent,
        (unsigned long long)(sent > n ? sent - n : 0), el);
}

static void recv_side(void) {
    if (strcmp(A.pattern, "reqrep") == 0) {
        void *s = zmq_socket(ctx, ZMQ_REP);
        set_hwm(s);
        int linger = 1000;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_bind(s, A.endpoint) != 0) die("bind");
        ready(s);
        zmq_msg_t m;
        zmq_msg_init(&m);
        for (long n = 0;; n++) {
            if (zmq_msg_recv(&m, s, 0) < 0) die("recv");
            int end = zmq_msg_size(&m) > 0 && ((unsigned char *)zmq_msg_data(&m))[0] == KIND_END;
            if (zmq_msg_send(&m, s, 0) < 0) die("send");
            if (end) {
                out("RESULT served=%ld", n);
                break;
            }
        }
        zmq_msg_close(&m);
        zmq_close(s);
        return;
    }
    int sub = strcmp(A.pattern, "pubsub") == 0;
    void *s = zmq_socket(ctx, sub ? ZMQ_SUB : ZMQ_PULL);
    set_hwm(s);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (sub && zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) != 0) die("subscribe");
    if (zmq_bind(s, A.endpoint) != 0) die("bind");
    ready(s);
    zmq_msg_t m;
    zmq_msg_init(&m);
    uint64_t n = 0;
    double t0 = 0;
    int warmed = 0;
    for (;;) {
        if (zmq_msg_recv(&m, s, 0) < 0) die("recv");
        if (zmq_msg_size(&m) != A.size) {
            fprintf(stderr, "peer-libzmq: got %zu bytes, want %zu\n", zmq_msg_size(&m), A.size);
            exit(1);
        }
        const unsigned char *d = zmq_msg_data(&m);
        if (d[0] == KIND_DATA) {
            if (n == 0) t0 = now();
            n++;
            if (A.delay_us > 0) sleep_us(A.delay_us);
        } else if (d[0] == KIND_WARM) {
            if (!warmed) {
                warmed = 1;
                if (both) atomic_store(&go_flag, 1);
                else out("SUBSCRIBED");
            }
        } else if (d[0] == KIND_END) {
            uint64_t sent;
            memcpy(&sent, d + 1, 8); /* little endian on the machines we run */
            throughput(n, now() - t0, sent);
            break;
        }
    }
    zmq_msg_close(&m);
    zmq_close(s);
}

static void send_msg(void *s, int kind, uint64_t sent) {
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, A.size) != 0) die("msg");
    unsigned char *d = zmq_msg_data(&m);
    if (A.fresh || kind != KIND_DATA) memset(d, 0, A.size);
    d[0] = (unsigned char)kind;
    if (kind == KIND_END) memcpy(d + 1, &sent, 8);
    if (zmq_msg_send(&m, s, 0) < 0) die("send");
}

static uint64_t send_data(void *s) {
    uint64_t n = 0;
    double deadline = now() + A.secs;
    for (;;) {
        for (int i = 0; i < CHECK_EVERY; i++) send_msg(s, KIND_DATA, 0);
        n += CHECK_EVERY;
        if (now() > deadline) return n;
    }
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void send_side(const char *ep) {
    if (strcmp(A.pattern, "pushpull") == 0) {
        void *s = zmq_socket(ctx, ZMQ_PUSH);
        set_hwm(s);
        if (zmq_connect(s, ep) != 0) die("connect");
        uint64_t n = send_data(s);
        send_msg(s, KIND_END, n);
        zmq_close(s); /* linger -1: zmq_ctx_term waits for delivery */
        out("SENT %llu", (unsigned long long)n);
    } else if (strcmp(A.pattern, "pubsub") == 0) {
        void *s = zmq_socket(ctx, ZMQ_PUB);
        set_hwm(s);
        int linger = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        if (A.nodrop && zmq_setsockopt(s, ZMQ_XPUB_NODROP, &A.nodrop, sizeof A.nodrop) != 0) die("nodrop");
        if (zmq_connect(s, ep) != 0) die("connect");
        while (!atomic_load(&go_flag)) {
            send_msg(s, KIND_WARM, 0);
            wait_ms(1);
        }
        uint64_t n = send_data(s);
        while (!atomic_load(&stop_flag)) {
            send_msg(s, KIND_END, n);
            wait_ms(1);
        }
        zmq_close(s);
        out("SENT %llu", (unsigned long long)n);
    } else {
        void *s = zmq_socket(ctx, ZMQ_REQ);
        int linger = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(s, ep) != 0) die("connect");
        zmq_msg_t r;
        zmq_msg_init(&r);
#define RT(kind, sent)                                                            \
    do {                                                                          \
        send_msg(s, kind, sent);                                                  \
        if (zmq_msg_recv(&r, s, 0) < 0) die("recv");                              \
        if (zmq_msg_size(&r) != A.size) {                                         \
            fprintf(stderr, "peer-libzmq: bad reply size %zu\n", zmq_msg_size(&r)); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)
        for (int i = 0; i < WARMUP_RT; i++) RT(KIND_DATA, 0);
        int64_t *rtts = malloc(sizeof(int64_t) * MAX_SAMPLES);
        size_t k = 0;
        int64_t deadline = now_ns() + (int64_t)(A.secs * 1e9);
        while (k < MAX_SAMPLES) {
            int64_t t = now_ns();
            RT(KIND_DATA, 0);
            int64_t t2 = now_ns();
            rtts[k++] = t2 - t;
            if (t2 > deadline) break;
        }
        RT(KIND_END, k);
        qsort(rtts, k, sizeof *rtts, cmp64);
        double sum = 0;
        for (size_t i = 0; i < k; i++) sum += (double)rtts[i];
#define PCT(p) ((double)rtts[(size_t)((p) * k + 0.5) > 0 ? (size_t)((p) * k + 0.5) - 1 : 0] / 1e3)
        out("RESULT n=%zu avg_us=%.2f p50_us=%.2f p99_us=%.2f min_us=%.2f max_us=%.2f", k, sum / k / 1e3,
            PCT(0.50), PCT(0.99), rtts[0] / 1e3, rtts[k - 1] / 1e3);
        free(rtts);
        zmq_msg_close(&r);
        zmq_close(s);
    }
}

static void *recv_thread(void *arg) {
    (void)arg;
    recv_side();
    atomic_store(&stop_flag, 1);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s recv|send|both pushpull|pubsub|reqrep ENDPOINT SIZE SECONDS HWM [fresh=1] [delay_us=N] [nodrop=1]\n", argv[0]);
        return 2;
    }
    A.role = argv[1];
    A.pattern = argv[2];
    A.endpoint = argv[3];
    A.size = (size_t)atol(argv[4]);
    A.secs = atof(argv[5]);
    A.hwm = atoi(argv[6]);
    for (int i = 7; i < argc; i++) {
        if (strncmp(argv[i], "fresh=", 6) == 0) A.fresh = atoi(argv[i] + 6);
        else if (strncmp(argv[i], "delay_us=", 9) == 0) A.delay_us = atoi(argv[i] + 9);
        else if (strncmp(argv[i], "nodrop=", 7) == 0) A.nodrop = atoi(argv[i] + 7);
        else {
            fprintf(stderr, "peer-libzmq: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (A.size < MIN_SIZE || A.secs <= 0) {
        fprintf(stderr, "peer-libzmq: bad size or seconds\n");
        return 2;
    }
    ctx = zmq_ctx_new();
    if (strcmp(A.role, "recv") == 0) {
        recv_side();
    } else if (strcmp(A.role, "send") == 0) {
        send_side(A.endpoint);
    } else if (strcmp(A.role, "both") == 0) {
        both = 1;
        pthread_t t;
        pthread_create(&t, NULL, recv_thread, NULL);
        while (!atomic_load(&ready_flag)) sleep_us(100);
        send_side(ready_ep);
        pthread_join(t, NULL);
    } else {
        fprintf(stderr, "peer-libzmq: bad role %s\n", A.role);
        return 2;
    }
    zmq_ctx_term(ctx);
    return 0;
}
