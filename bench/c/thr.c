/* thr: the libzmq side of the throughput comparison, same protocol as
 * bench/thr: "thr recv ENDPOINT COUNT SIZE" binds a PULL and prints msgs/s,
 * "thr send ENDPOINT COUNT SIZE" connects a PUSH. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "thr: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: thr recv|send ENDPOINT COUNT SIZE\n");
        return 2;
    }
    int count = atoi(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    void *ctx = zmq_ctx_new();
    if (strcmp(argv[1], "recv") == 0) {
        void *s = zmq_socket(ctx, ZMQ_PULL);
        if (zmq_bind(s, argv[2]) != 0) die("bind");
        char ep[256];
        size_t eplen = sizeof ep;
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen);
        printf("READY %s\n", ep);
        fflush(stdout);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) die("recv");
        double start = now();
        for (int i = 1; i < count; i++) {
            if (zmq_msg_recv(&m, s, 0) < 0) die("recv");
            if (zmq_msg_size(&m) != size) { fprintf(stderr, "thr: bad size\n"); return 1; }
        }
        double el = now() - start;
        printf("RESULT %.0f msgs/s %.1f MB/s\n", (count - 1) / el, (count - 1) * (double)size / el / 1e6);
        zmq_msg_close(&m);
        zmq_close(s);
    } else {
        void *s = zmq_socket(ctx, ZMQ_PUSH);
        if (zmq_connect(s, argv[2]) != 0) die("connect");
        char *buf = calloc(1, size ? size : 1);
        for (int i = 0; i < count; i++) {
            zmq_msg_t m;
            zmq_msg_init_size(&m, size);
            memcpy(zmq_msg_data(&m), buf, size);
            if (zmq_msg_send(&m, s, 0) < 0) die("send");
        }
        zmq_close(s);
        free(buf);
    }
    zmq_ctx_term(ctx);
    return 0;
}
