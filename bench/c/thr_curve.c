/* thr_curve: bench/c/thr.c under CURVE, the libzmq side of
 * bench/sidebyside_curve.sh: "thr_curve recv ENDPOINT COUNT SIZE" binds a
 * CURVE-server PULL and prints msgs/s, "thr_curve send ENDPOINT COUNT SIZE"
 * connects a CURVE-client PUSH. Keys: libzmq's test-suite pairs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static const char *server_public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
static const char *server_secret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
static const char *client_public = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
static const char *client_secret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "thr_curve: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static void opt(void *s, int name, const char *v) {
    if (zmq_setsockopt(s, name, v, strlen(v)) != 0) die("setsockopt");
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: thr_curve recv|send ENDPOINT COUNT SIZE\n");
        return 2;
    }
    if (!zmq_has("curve")) {
        fprintf(stderr, "thr_curve: libzmq has no CURVE\n");
        return 1;
    }
    int count = atoi(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    void *ctx = zmq_ctx_new();
    if (strcmp(argv[1], "recv") == 0) {
        void *s = zmq_socket(ctx, ZMQ_PULL);
        int one = 1;
        zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one);
        opt(s, ZMQ_CURVE_SECRETKEY, server_secret);
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
            if (zmq_msg_size(&m) != size) { fprintf(stderr, "thr_curve: bad size\n"); return 1; }
        }
        double el = now() - start;
        printf("RESULT %.0f msgs/s %.1f MB/s\n", (count - 1) / el, (count - 1) * (double)size / el / 1e6);
        zmq_msg_close(&m);
        zmq_close(s);
    } else {
        void *s = zmq_socket(ctx, ZMQ_PUSH);
        opt(s, ZMQ_CURVE_SERVERKEY, server_public);
        opt(s, ZMQ_CURVE_PUBLICKEY, client_public);
        opt(s, ZMQ_CURVE_SECRETKEY, client_secret);
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
