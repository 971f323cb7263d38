/*
 * ws13 benchmark load generator (native). Built by bench/run.ts with `cc -O2 … -lz`.
 *
 *   loadgen --mode echo|broadcast|fanout|handshake|idle|serve --port P [options]
 *
 * One thread, epoll (level-triggered), non-blocking sockets. Every connection starts with
 * a real opening handshake (a fresh random key) whose Sec-WebSocket-Accept is checked.
 * Request frames are built once by the caller (masked, --frame-file) and replicated here into
 * one contiguous batch, so a send is one write() of a slice of it. Every reply is checked:
 * its payload byte for byte against --message-file, or, with --pool-file (permessage-deflate),
 * inflated with one zlib stream per connection and compared with the document it answers.
 *
 * Modes:
 *   echo       --conns N --inflight K: each connection keeps K request frames outstanding;
 *              every response frame releases one more request. Counts responses. With
 *              --pool-file (documents, each a 32-bit little-endian length and the bytes), the
 *              requests are the documents in turn, each compressed on its own (fresh raw deflate
 *              stream with the window the server allowed, sync flush, tail removed, RSV1).
 *   broadcast  --conns N subscribers plus one publisher connection (the last one). The
 *              publisher keeps K messages in flight end to end (a message is outstanding until
 *              every subscriber has it). Counts data frames delivered to subscribers and the
 *              publish-to-delivery latency of each (p50, p99, p99.9).
 *   fanout     broadcast across server processes: --ports P1,P2,... (subscriber i on port
 *              i mod count, the publisher on the first), upgrade paths --path (subscribers)
 *              and --pub-path (publisher). Binary messages built here from --message-file:
 *              the first 8 payload bytes carry the message's sequence number (little-endian),
 *              the rest is the file's. A subscriber must receive every message in order: each
 *              delivery is compared byte for byte with the message of its next sequence number;
 *              latency is publish (this process's write) to delivery (its read) on one clock.
 *              The publisher keeps --inflight messages outstanding on average over the
 *              subscribers (sent - delivered / subscribers < K). Publishing starts --settle ms
 *              after every connection is open, so the servers' subscriptions are in place.
 *   handshake  --conns N concurrent slots, each looping: connect, upgrade, verify accept,
 *              send a masked close frame (1000), read the server's close frame (it must echo
 *              1000), close the socket. Counts completed cycles.
 *   idle       opens --conns N connections (each completes one echo when --frame-file is
 *              given), prints {"event":"open",...}, then holds them until stdin reaches EOF
 *              (or a signal), and prints the final JSON.
 *   serve      a native echo server on 127.0.0.1:--port (0: any), for the client workload:
 *              prints {"event":"listening","port":P}; checks the upgrade and that client
 *              frames are masked, echoes data frames, answers ping and close; runs until
 *              SIGTERM, then prints what it served.
 *
 * The measured window (after --warmup ms, for --duration ms) records the messages, this
 * process's CPU (getrusage), the servers' CPU (/proc/PID/stat utime+stime, --server-pid, or
 * --server-pids A,B,... reported each and summed; their write system calls, /proc/PID/io syscw)
 * and each core's busy and interrupt time (/proc/stat), and the machine's TCP retransmissions
 * and input backlog drops (/proc/net). Prints one JSON line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---- SHA-1 (FIPS 180-4) and base64, for Sec-WebSocket-Accept ------------------------ */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const uint8_t *msg, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  size_t total = ((len + 8) / 64 + 1) * 64;
  uint8_t buf[256];
  if (total > sizeof buf) return; /* keys + GUID are 60 bytes: never */
  memset(buf, 0, total);
  memcpy(buf, msg, len);
  buf[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) buf[total - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (size_t blk = 0; blk < total; blk += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
      w[i] = (uint32_t)buf[blk + 4 * i] << 24 | (uint32_t)buf[blk + 4 * i + 1] << 16 |
             (uint32_t)buf[blk + 4 * i + 2] << 8 | buf[blk + 4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
      else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
      else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
      else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d; d = c; c = rol(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
  }
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24); out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8); out[4 * i + 3] = (uint8_t)h[i];
  }
}

static void base64(const uint8_t *in, size_t n, char *out) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[o++] = tbl[(v >> 18) & 63];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? tbl[v & 63] : '=';
  }
  out[o] = 0;
}

/* ---- options -------------------------------------------------------------------------- */

enum { M_ECHO, M_BROADCAST, M_HANDSHAKE, M_IDLE, M_SERVE, M_FANOUT };
static int mode = M_ECHO;
static int port = 0;
#define MAXPORTS 16
static int ports[MAXPORTS]; static int nports = 0;   /* --ports; else {port} */
static const char *path = "/bench", *pub_path = NULL;
static long settle_ms = 0;
static int nconns = 100;
static int inflight = 16;
static long warmup_ms = 500, duration_ms = 2000;
#define MAXPIDS 16
static int server_pids[MAXPIDS]; static int nserver_pids = 0;
static const char *extensions = NULL;
static const char *frame_file = NULL;
static const char *message_file = NULL;
static const char *pool_file = NULL;
static int expect_opcode = -1, expect_rsv1 = -1;
static long long expect_len = -1;
static int connect_concurrency = 256;
static int source_ips = 200; /* 127.0.0.2 .. : spreads 4-tuples (handshake churn, 10k idle) */

/* ---- state ------------------------------------------------------------------------------ */

enum { S_FREE, S_CONNECTING, S_HS, S_OPEN, S_CLOSING };

typedef struct conn {
  int fd;
  int state;
  int index;
  int publisher;
  int port;
  uint32_t events;      /* current epoll interest */
  char accept[32];      /* expected Sec-WebSocket-Accept */
  char *hs;             /* response head being read */
  int hslen;
  uint8_t hdr[14];
  int hlen;
  int opcode, rsv1, fin;
  uint64_t plen;        /* payload length of the current frame */
  uint64_t poff;        /* payload bytes of it read so far */
  int mismatch;         /* the current payload differs from what was expected */
  uint8_t *zbuf; size_t zlen, zcap;   /* pool mode: the reply payload being gathered */
  z_stream *inf;                      /* pool mode: inflates the server's replies */
  uint32_t *ring; uint32_t rhead, rtail, rmask; /* pool mode: documents sent, awaiting replies */
  uint8_t *obuf; size_t olen, ooff, ocap;       /* pool mode: bytes to write */
  uint64_t pend;        /* fixed-frame modes: request bytes still to write */
  uint32_t woff;        /* offset in the frame of the next byte to write */
  uint64_t received;    /* data frames received */
  uint8_t close_code[2];
  uint8_t seqb[8];      /* fan-out: the sequence number the current message carries */
  double deadline;
} conn;

static conn *conns;
static int epfd;
static uint8_t *frame; static size_t flen;        /* the request frame (fixed-frame modes) */
static uint8_t *msg; static size_t msglen;        /* the payload every data reply must equal */
static uint8_t *batch; static size_t batchlen;
static uint8_t rbuf[1 << 20];
static double tcur;                               /* time of the current read */

/* Pool mode (permessage-deflate): many documents, each compressed on its own. */
static int npool = 0;
static uint8_t **pool_doc; static uint32_t *pool_doclen;
static uint8_t **pool_frame; static uint32_t *pool_framelen;
static int pool_built = 0, pool_wbits = 15;
static uint64_t next_doc = 0;
static uint64_t req_plain = 0, req_comp = 0, reply_plain = 0, reply_comp = 0, reply_uncompressed = 0;
static uint8_t *inflate_out; static size_t inflate_cap = 0;

/* Broadcast: deliveries per published message (a ring), send times, latency histogram (µs).
 * Fan-out uses the send times only; averaged over 1,000 subscribers a lagging one may be far
 * behind, hence the size. */
#define BRING (1 << 17)
static uint32_t bcount[BRING];
static double bsent[BRING];
static uint64_t completed = 0;
#define HMAX 2000000
static uint32_t *hist; static uint64_t hist_n = 0;
static int measuring = 0;

static uint64_t messages = 0, handshakes = 0, resets = 0, bad_frames = 0, checked = 0, mismatches = 0, ready = 0;
static uint64_t pub_sent = 0;
static double last_delivery = 0, longest_gap = 0;   /* fan-out: the longest time with no delivery while measuring */
static int obuf_mode = 0;                         /* writes from c->obuf: pool mode, fan-out publisher */
static uint8_t fan_frame[14 + 125]; static size_t fan_flen = 0; /* fan-out: the masked frame of sequence 0 */
static const uint8_t fan_mask[4] = {0x5a, 0x13, 0xc4, 0x7e};
static int opened = 0, started = 0, failed = 0, running = 1, finished_setup = 0;
static char answer[512]; static int have_answer = 0;
static char errors[10][200]; static int nerrors = 0; static uint64_t error_count = 0;
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static char request_tail[600];

static void err(const char *fmt, ...) {
  error_count++;
  if (nerrors >= 10) return;
  va_list ap; va_start(ap, fmt);
  vsnprintf(errors[nerrors++], sizeof errors[0], fmt, ap);
  va_end(ap);
}

static double now(void) {
  struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static void set_events(conn *c, uint32_t ev) {
  if (c->events == ev) return;
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
  c->events = ev;
}

/* ---- connections ------------------------------------------------------------------------ */

static void start_conn(conn *c) {
  c->hlen = 0; c->plen = 0; c->poff = 0; c->pend = 0; c->woff = 0; c->received = 0; c->hslen = 0;
  c->olen = 0; c->ooff = 0; c->rhead = c->rtail = 0; c->zlen = 0; c->mismatch = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) { err("socket: %s", strerror(errno)); c->state = S_FREE; failed++; return; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET};
  if (source_ips > 0) {
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(started % source_ips));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) { /* fall back to the default source */ }
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
  dst.sin_addr.s_addr = htonl(0x7f000001u);
  started++;
  c->fd = fd;
  c->state = S_CONNECTING;
  c->deadline = now() + 10.0;
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
    err("connect: %s", strerror(errno)); close(fd); c->state = S_FREE; failed++; return;
  }
  struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
  c->events = EPOLLOUT;
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}

static void drop(conn *c, int linger0) {
  if (c->state == S_FREE) return;
  if (linger0) { struct linger l = {1, 0}; setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l); }
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->hs); c->hs = NULL;
  c->state = S_FREE;
}

static void flush(conn *c) {
  if (obuf_mode) {
    while (c->ooff < c->olen) {
      ssize_t w = write(c->fd, c->obuf + c->ooff, c->olen - c->ooff);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        if (running) err("connection %d: write: %s", c->index, strerror(errno));
        drop(c, 1); failed++;
        return;
      }
      c->ooff += (size_t)w;
    }
    if (c->ooff == c->olen) c->ooff = c->olen = 0;
    set_events(c, c->olen > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
    return;
  }
  while (c->pend > 0) {
    size_t n = c->pend < batchlen - c->woff ? c->pend : batchlen - c->woff;
    ssize_t w = write(c->fd, batch + c->woff, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      if (running) err("connection %d: write: %s", c->index, strerror(errno));
      drop(c, 1); failed++;
      return;
    }
    c->pend -= (uint64_t)w;
    c->woff = (uint32_t)((c->woff + (size_t)w) % flen);
  }
  set_events(c, c->pend > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* ---- the document pool (permessage-deflate) --------------------------------------------- */

static void load_pool(void) {
  size_t n; uint8_t *all = NULL;
  FILE *f = fopen(pool_file, "rb");
  if (!f) { fprintf(stderr, "cannot read %s\n", pool_file); exit(1); }
  fseek(f, 0, SEEK_END); n = (size_t)ftell(f); fseek(f, 0, SEEK_SET);
  all = malloc(n); if (fread(all, 1, n, f) != n) { fprintf(stderr, "short read\n"); exit(1); } fclose(f);
  size_t off = 0; int cap = 0;
  while (off + 4 <= n) {
    uint32_t len = (uint32_t)all[off] | (uint32_t)all[off + 1] << 8 | (uint32_t)all[off + 2] << 16 | (uint32_t)all[off + 3] << 24;
    off += 4;
    if (off + len > n) break;
    if (npool == cap) { cap = cap ? cap * 2 : 64; pool_doc = realloc(pool_doc, sizeof *pool_doc * cap); pool_doclen = realloc(pool_doclen, sizeof *pool_doclen * cap); }
    pool_doc[npool] = all + off; pool_doclen[npool] = len; npool++;
    if (len * 2 + 64 > inflate_cap) inflate_cap = len * 2 + 64;
    off += len;
  }
  inflate_out = malloc(inflate_cap);
}

/* RFC 7692 §7.2.1: each document compressed by a fresh raw deflate stream with the window the
 * server allowed (client_max_window_bits), sync-flushed, the 00 00 ff ff tail removed; masked. */
static void build_pool(void) {
  const char *p = strstr(answer, "client_max_window_bits=");
  pool_wbits = p ? atoi(p + 23) : 15;
  if (pool_wbits < 9) pool_wbits = 9; /* zlib's raw deflate has no 8-bit window */
  pool_frame = malloc(sizeof *pool_frame * (size_t)npool); pool_framelen = malloc(sizeof *pool_framelen * (size_t)npool);
  uint8_t *out = malloc(inflate_cap + 64);
  for (int i = 0; i < npool; i++) {
    z_stream z = {0};
    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -pool_wbits, 8, Z_DEFAULT_STRATEGY);
    z.next_in = pool_doc[i]; z.avail_in = pool_doclen[i];
    z.next_out = out; z.avail_out = (uInt)(inflate_cap + 64);
    deflate(&z, Z_SYNC_FLUSH);
    size_t clen = (size_t)(inflate_cap + 64 - z.avail_out) - 4;
    deflateEnd(&z);
    size_t ext = clen < 126 ? 0 : 2;
    uint8_t *fr = malloc(2 + ext + 4 + clen);
    fr[0] = 0xc1; /* FIN, RSV1, text */
    if (ext == 0) fr[1] = (uint8_t)(0x80 | clen); else { fr[1] = 0x80 | 126; fr[2] = (uint8_t)(clen >> 8); fr[3] = (uint8_t)clen; }
    uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    memcpy(fr + 2 + ext, mask, 4);
    for (size_t k = 0; k < clen; k++) fr[2 + ext + 4 + k] = out[k] ^ mask[k & 3];
    pool_frame[i] = fr; pool_framelen[i] = (uint32_t)(2 + ext + 4 + clen);
  }
  free(out);
  pool_built = 1;
}

static void send_pool(conn *c, uint64_t k) {
  for (uint64_t j = 0; j < k; j++) {
    uint32_t idx = (uint32_t)(next_doc++ % (uint64_t)npool);
    uint32_t fl = pool_framelen[idx];
    if (c->olen + fl > c->ocap) { c->ocap = (c->olen + fl) * 2; c->obuf = realloc(c->obuf, c->ocap); }
    memcpy(c->obuf + c->olen, pool_frame[idx], fl); c->olen += fl;
    if (c->rtail - c->rhead > c->rmask) { err("connection %d: reply ring full", c->index); return; }
    c->ring[c->rtail++ & c->rmask] = idx;
    if (measuring) { req_plain += pool_doclen[idx]; req_comp += fl - (fl > 131 ? 8 : 6); }
  }
  flush(c);
}

/* A whole reply payload in c->zbuf: inflate it (RSV1) and compare with the document it answers. */
static void check_pool_reply(conn *c) {
  if (c->rhead == c->rtail) { mismatches++; err("connection %d: a reply nothing was sent for", c->index); return; }
  uint32_t idx = c->ring[c->rhead++ & c->rmask];
  const uint8_t *got = c->zbuf; size_t glen = c->zlen;
  if (c->rsv1) {
    if (!c->inf) { c->inf = calloc(1, sizeof(z_stream)); inflateInit2(c->inf, -15); }
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    if (c->zlen + 4 > c->zcap) { c->zcap = c->zlen + 64; c->zbuf = realloc(c->zbuf, c->zcap); }
    memcpy(c->zbuf + c->zlen, tail, 4);
    c->inf->next_in = c->zbuf; c->inf->avail_in = (uInt)(c->zlen + 4);
    c->inf->next_out = inflate_out; c->inf->avail_out = (uInt)inflate_cap;
    int r = inflate(c->inf, Z_SYNC_FLUSH);
    if ((r != Z_OK && r != Z_BUF_ERROR) || c->inf->avail_in != 0) {
      mismatches++; err("connection %d: a reply does not inflate (%d)", c->index, r); return;
    }
    got = inflate_out; glen = inflate_cap - c->inf->avail_out;
    if (measuring) { reply_comp += c->zlen; reply_plain += glen; }
  } else if (measuring) reply_uncompressed++;
  if (glen != pool_doclen[idx] || memcmp(got, pool_doc[idx], glen) != 0) {
    mismatches++;
    if (mismatches <= 3) err("connection %d: a reply differs from document %u (%zu bytes)", c->index, idx, glen);
  }
}

/* ---- the opening handshake (client side) -------------------------------------------------- */

static void send_handshake(conn *c) {
  uint8_t key[16];
  for (int i = 0; i < 16; i += 8) { uint64_t r = rnd(); memcpy(key + i, &r, 8); }
  char k64[32]; base64(key, 16, k64);
  char cat[96]; snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", k64);
  uint8_t digest[20]; sha1((uint8_t *)cat, strlen(cat), digest);
  base64(digest, 20, c->accept);
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                   c->publisher && pub_path ? pub_path : path, c->port, k64, request_tail);
  if (write(c->fd, req, (size_t)n) != n) { err("connection %d: request not written at once", c->index); drop(c, 1); failed++; return; }
  c->hs = malloc(4096); c->hslen = 0;
  c->state = S_HS;
  set_events(c, EPOLLIN);
}

static void on_open(conn *c);
static void parse(conn *c, const uint8_t *p, size_t n);

/* Case-insensitive search for a header's value in a response head; copies it trimmed. */
static int header_value(const char *head, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  const char *p = head;
  int found = 0;
  while ((p = strstr(p, "\r\n")) != NULL) {
    p += 2;
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ' || *v == '\t') v++;
      const char *e = strstr(v, "\r\n");
      size_t len = e ? (size_t)(e - v) : strlen(v);
      while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
      if (len >= cap) len = cap - 1;
      memcpy(out, v, len); out[len] = 0;
      found++;
    }
  }
  return found;
}

static void read_handshake(conn *c) {
  ssize_t r = read(c->fd, c->hs + c->hslen, 4095 - (size_t)c->hslen);
  if (r <= 0) {
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    err("connection %d: closed during the handshake (%s)", c->index, r == 0 ? "EOF" : strerror(errno));
    drop(c, 1); failed++; return;
  }
  c->hslen += (int)r;
  c->hs[c->hslen] = 0;
  char *end = strstr(c->hs, "\r\n\r\n");
  if (!end) {
    if (c->hslen >= 4095) { err("connection %d: response head too long", c->index); drop(c, 1); failed++; }
    return;
  }
  *end = 0;
  if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) {
    char line[80]; snprintf(line, sizeof line, "%s", c->hs); char *nl = strchr(line, '\r'); if (nl) *nl = 0;
    err("connection %d: refused: %s", c->index, line); drop(c, 1); failed++; return;
  }
  char acc[128];
  if (header_value(c->hs, "Sec-WebSocket-Accept", acc, sizeof acc) != 1 || strcmp(acc, c->accept) != 0) {
    err("connection %d: wrong Sec-WebSocket-Accept", c->index); drop(c, 1); failed++; return;
  }
  if (!have_answer) {
    have_answer = 1;
    if (!header_value(c->hs, "Sec-WebSocket-Extensions", answer, sizeof answer)) answer[0] = 0;
  }
  size_t head = (size_t)(end - c->hs) + 4;
  size_t rest = (size_t)c->hslen - head;
  uint8_t leftover[4096];
  memcpy(leftover, c->hs + head, rest);
  free(c->hs); c->hs = NULL;
  c->state = S_OPEN;
  tcur = now();
  on_open(c);
  if (rest > 0 && c->state == S_OPEN) parse(c, leftover, rest);
}

/* ---- frames ------------------------------------------------------------------------------ */

static void frame_done(conn *c) {
  int opcode = c->opcode;
  if (c->mismatch) {
    mismatches++;
    uint64_t got = 0;
    for (int i = 0; i < 8; i++) got |= (uint64_t)c->seqb[i] << (8 * i);
    if (mode == M_FANOUT && c->plen == msglen && got != c->received && got < pub_sent) {
      /* Lost, repeated or reordered: counted once, then followed from the one that came. */
      err("connection %d: message %llu came where %llu was due", c->index, (unsigned long long)got, (unsigned long long)c->received);
      c->received = got;
    } else if (mode == M_FANOUT) err("connection %d: message %llu altered", c->index, (unsigned long long)c->received);
    else if (mismatches <= 3) err("connection %d: a reply differs from the message", c->index);
    c->mismatch = 0;
  }
  if (opcode == 8) {
    if (c->state != S_CLOSING) { err("connection %d: the server sent a close frame", c->index); drop(c, 1); failed++; return; }
    /* The closing handshake is complete: the server echoed our 1000. Close the socket. */
    if (c->plen != 2 || c->close_code[0] != 0x03 || c->close_code[1] != 0xe8) { bad_frames++; err("connection %d: close frame without code 1000", c->index); }
    handshakes++;
    drop(c, 0);
    return;
  }
  if (opcode >= 8) return;          /* ping/pong: ignored */
  if (!c->fin) return;              /* (the servers do not fragment their messages) */
  if (pool_file) check_pool_reply(c);
  uint64_t seq = c->received++;
  if (mode == M_IDLE && c->received == 1) ready++;
  if (c->publisher) return;
  messages++;
  if (mode == M_FANOUT) {
    if (measuring && tcur - last_delivery > longest_gap) longest_gap = tcur - last_delivery;
    last_delivery = tcur;
    /* Sequence numbers are checked in parse(): this is the message `seq` sent. */
    if (pub_sent - seq > BRING) { err("connection %d: message %llu arrived %llu messages late", c->index, (unsigned long long)seq, (unsigned long long)(pub_sent - seq)); return; }
    if (measuring) {
      double us = (tcur - bsent[seq % BRING]) * 1e6;
      uint32_t b = us < 0 ? 0 : us >= HMAX ? HMAX - 1 : (uint32_t)us;
      hist[b]++; hist_n++;
    }
  } else if (mode == M_BROADCAST) {
    uint32_t slot = (uint32_t)(seq % BRING);
    if (measuring) {
      double us = (tcur - bsent[slot]) * 1e6;
      uint32_t b = us < 0 ? 0 : us >= HMAX ? HMAX - 1 : (uint32_t)us;
      hist[b]++; hist_n++;
    }
    if (++bcount[slot] == (uint32_t)nconns) { bcount[slot] = 0; completed++; }
  }
}

/* Whether payload bytes [pos, pos + k) of the current data frame differ from what was sent. In
 * fan-out the first 8 bytes are the sequence number of the subscriber's next message. */
static int payload_differs(conn *c, const uint8_t *p, uint64_t pos, size_t k) {
  if (pos + k > msglen) return 1;
  int differs = 0;
  if (mode == M_FANOUT) {
    for (; k > 0 && pos < 8; p++, pos++, k--) {
      c->seqb[pos] = *p;
      if (*p != (uint8_t)(c->received >> (8 * pos))) differs = 1;
    }
  }
  return differs || (k > 0 && memcmp(p, msg + pos, k) != 0);
}

/* Parses response bytes: headers, then every payload byte checked against what was sent. */
static void parse(conn *c, const uint8_t *p, size_t n) {
  size_t off = 0;
  uint64_t before = c->received;
  while (off < n) {
    if (c->poff < c->plen) {
      size_t k = c->plen - c->poff < n - off ? (size_t)(c->plen - c->poff) : n - off;
      if (c->opcode == 8) {
        for (size_t i = 0; i < k; i++) if (c->poff + i < 2) c->close_code[c->poff + i] = p[off + i];
      } else if (c->opcode < 8) {
        if (pool_file) {
          if (c->zlen + k + 4 > c->zcap) { c->zcap = (c->zlen + k + 4) * 2; c->zbuf = realloc(c->zbuf, c->zcap); }
          memcpy(c->zbuf + c->zlen, p + off, k); c->zlen += k;
        } else if (msg && !c->mismatch) {
          if (payload_differs(c, p + off, c->poff, k)) c->mismatch = 1;
        }
      }
      c->poff += k; off += k;
      if (c->poff == c->plen) { frame_done(c); if (c->state == S_FREE) return; }
      continue;
    }
    c->hdr[c->hlen++] = p[off++];
    if (c->hlen < 2) continue;
    int l7 = c->hdr[1] & 0x7f;
    int need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
    if (c->hlen < need) continue;
    uint64_t len = (uint64_t)l7;
    if (l7 == 126) len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
    else if (l7 == 127) { len = 0; for (int i = 0; i < 8; i++) len = len << 8 | c->hdr[2 + i]; }
    c->hlen = 0;
    c->opcode = c->hdr[0] & 15; c->rsv1 = (c->hdr[0] >> 6) & 1; c->fin = c->hdr[0] >> 7;
    c->plen = len; c->poff = 0; c->zlen = 0; c->mismatch = 0;
    if (c->hdr[1] & 0x80) { bad_frames++; err("connection %d: masked frame from the server", c->index); }
    if (c->opcode < 8) {
      checked++;
      if ((expect_opcode >= 0 && c->opcode != expect_opcode) || (expect_rsv1 >= 0 && c->rsv1 != expect_rsv1) ||
          (expect_len >= 0 && (long long)len != expect_len)) {
        if (bad_frames++ < 3) err("connection %d: unexpected frame opcode %d rsv1 %d length %llu", c->index, c->opcode, c->rsv1, (unsigned long long)len);
      }
      if (msg && !pool_file && len != msglen) c->mismatch = 1;
    }
    if (len == 0) { frame_done(c); if (c->state == S_FREE) return; }
  }
  if (mode == M_ECHO && running) {
    uint64_t done = c->received - before;
    if (done > 0) {
      if (pool_file) send_pool(c, done);
      else { c->pend += done * flen; flush(c); }
    }
  }
}

static const uint8_t close_frame[] = {0x88, 0x82, 0x12, 0x34, 0x56, 0x78, 0x03 ^ 0x12, 0xe8 ^ 0x34};

static void on_open(conn *c) {
  opened++;
  if (mode == M_ECHO) {
    if (pool_file) {
      if (!pool_built) build_pool();
      if (!c->ring) { uint32_t sz = 1; while (sz < (uint32_t)inflight * 4) sz <<= 1; c->ring = malloc(sizeof(uint32_t) * sz); c->rmask = sz - 1; }
      send_pool(c, (uint64_t)inflight);
    } else {
      c->pend = (uint64_t)inflight * flen;
      flush(c);
    }
  } else if (mode == M_IDLE && frame) {
    c->pend = flen;
    flush(c);
  } else if (mode == M_HANDSHAKE) {
    if (write(c->fd, close_frame, sizeof close_frame) != (ssize_t)sizeof close_frame) {
      err("connection %d: close frame not written", c->index); drop(c, 1); failed++; return;
    }
    c->state = S_CLOSING;
    c->deadline = now() + 5.0;
  }
}

static void read_open(conn *c) {
  for (;;) {
    ssize_t r = read(c->fd, rbuf, sizeof rbuf);
    if (r > 0) {
      tcur = now();
      parse(c, rbuf, (size_t)r);
      if (c->state == S_FREE) return;
      if ((size_t)r < sizeof rbuf) return;
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (c->state == S_CLOSING) {
      if (r < 0) resets++;
      err("connection %d: the server closed TCP before its close frame arrived (%s)", c->index, r == 0 ? "EOF" : strerror(errno));
      drop(c, 1); failed++;
      return;
    }
    if (running) err("connection %d: closed by the server (%s)", c->index, r == 0 ? "EOF" : strerror(errno));
    drop(c, 1); failed++;
    return;
  }
}

static void on_event(conn *c, uint32_t ev) {
  switch (c->state) {
  case S_CONNECTING: {
    int e = 0; socklen_t l = sizeof e;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (e) { err("connection %d: connect: %s", c->index, strerror(e)); drop(c, 1); failed++; return; }
    send_handshake(c);
    return;
  }
  case S_HS: read_handshake(c); return;
  case S_OPEN:
  case S_CLOSING:
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_open(c);
    if (c->state != S_FREE && (ev & EPOLLOUT)) flush(c);
    return;
  }
}

/* ---- measurement ------------------------------------------------------------------------- */

typedef struct { double t, cpu, user, sys; long long server[MAXPIDS], swrites[MAXPIDS]; uint64_t msgs; long long busy[2], irq[2], total[2], retrans, drops; } snap;

/* Machine-wide: TCP segments retransmitted (/proc/net/snmp) and packets dropped by a full
 * per-CPU input backlog (/proc/net/softnet_stat, column 2): on loopback a drop stalls a
 * connection until its retransmission timer fires. */
static void net_counters(long long *retrans, long long *drops) {
  char head[1024], vals[1024];
  *retrans = *drops = 0;
  FILE *f = fopen("/proc/net/snmp", "r");
  while (f && fgets(head, sizeof head, f)) {
    if (strncmp(head, "Tcp:", 4) != 0 || !fgets(vals, sizeof vals, f)) continue;
    char *hs, *vs, *h = strtok_r(head, " \n", &hs), *v = strtok_r(vals, " \n", &vs);
    while (h && v) { if (!strcmp(h, "RetransSegs")) *retrans = atoll(v); h = strtok_r(NULL, " \n", &hs); v = strtok_r(NULL, " \n", &vs); }
    break;
  }
  if (f) fclose(f);
  f = fopen("/proc/net/softnet_stat", "r");
  while (f && fgets(head, sizeof head, f)) { unsigned a, b; if (sscanf(head, "%x %x", &a, &b) == 2) *drops += b; }
  if (f) fclose(f);
}

/* Write system calls a process made (syscw of /proc/PID/io). */
static long long proc_writes(int pid) {
  char path[64], line[128]; long long v = 0;
  snprintf(path, sizeof path, "/proc/%d/io", pid);
  FILE *f = fopen(path, "r"); if (!f) return 0;
  while (fgets(line, sizeof line, f)) if (sscanf(line, "syscw: %lld", &v) == 1) break;
  fclose(f);
  return v;
}

static long long proc_ticks(int pid) {
  if (!pid) return 0;
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r"); if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f); fclose(f); buf[n] = 0;
  char *p = strrchr(buf, ')'); if (!p) return 0;
  p += 2;
  long long ut = 0, st = 0; int field = 3;
  char *tok = strtok(p, " ");
  while (tok) { if (field == 14) ut = atoll(tok); if (field == 15) { st = atoll(tok); break; } field++; tok = strtok(NULL, " "); }
  return ut + st;
}

static void take(snap *s) {
  s->t = now();
  struct rusage ru; getrusage(RUSAGE_SELF, &ru);
  s->user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  s->sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  s->cpu = s->user + s->sys;
  for (int i = 0; i < nserver_pids; i++) { s->server[i] = proc_ticks(server_pids[i]); s->swrites[i] = proc_writes(server_pids[i]); }
  net_counters(&s->retrans, &s->drops);
  s->msgs = mode == M_HANDSHAKE ? handshakes : messages;
  FILE *f = fopen("/proc/stat", "r");
  char line[512];
  for (int i = 0; i < 2; i++) s->busy[i] = s->irq[i] = s->total[i] = 0;
  while (f && fgets(line, sizeof line, f)) {
    int cpu; long long v[10] = {0};
    if (sscanf(line, "cpu%d %lld %lld %lld %lld %lld %lld %lld %lld", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) >= 5 && cpu >= 0 && cpu < 2) {
      long long tot = 0; for (int i = 0; i < 8; i++) tot += v[i];
      s->total[cpu] = tot; s->busy[cpu] = tot - v[3] - v[4]; s->irq[cpu] = v[5] + v[6];
    }
  }
  if (f) fclose(f);
}

static void json_str(FILE *o, const char *s) {
  fputc('"', o);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fprintf(o, "\\%c", *s);
    else if ((unsigned char)*s < 0x20) fprintf(o, "\\u%04x", *s);
    else fputc(*s, o);
  }
  fputc('"', o);
}

static struct rlimit nofile;
static double setup_seconds = 0;

static void report(const snap *a, const snap *b) {
  long hz = sysconf(_SC_CLK_TCK);
  double secs = b->t - a->t;
  if (secs <= 0) secs = 1e-9;
  FILE *o = stdout;
  fprintf(o, "{\"mode\":\"%s\",\"connections\":%d,\"inFlight\":%d,\"frameBytes\":%zu,\"opened\":%d,\"failed\":%d,",
          mode == M_ECHO ? "echo" : mode == M_BROADCAST ? "broadcast" : mode == M_FANOUT ? "fanout" : mode == M_SERVE ? "serve" : mode == M_HANDSHAKE ? "handshake" : "idle",
          nconns, inflight, flen, opened, failed);
  fprintf(o, "\"answer\":"); if (have_answer && answer[0]) json_str(o, answer); else fprintf(o, "null");
  fprintf(o, ",\"setupSeconds\":%.3f,\"seconds\":%.4f,\"messages\":%llu,\"rate\":%.1f,", setup_seconds, secs,
          (unsigned long long)(b->msgs - a->msgs), (double)(b->msgs - a->msgs) / secs);
  double server_sum = 0;
  for (int i = 0; i < nserver_pids; i++) server_sum += (double)(b->server[i] - a->server[i]) / (double)hz / secs;
  fprintf(o, "\"loadgenCpu\":%.4f,\"loadgenUser\":%.4f,\"loadgenSys\":%.4f,\"serverCpu\":%.4f,\"serverCpus\":[",
          (b->cpu - a->cpu) / secs, (b->user - a->user) / secs, (b->sys - a->sys) / secs, server_sum);
  for (int i = 0; i < nserver_pids; i++) fprintf(o, "%s%.4f", i ? "," : "", (double)(b->server[i] - a->server[i]) / (double)hz / secs);
  fprintf(o, "],\"tcpRetransmits\":%lld,\"backlogDrops\":%lld,\"serverWrites\":[", b->retrans - a->retrans, b->drops - a->drops);
  for (int i = 0; i < nserver_pids; i++) fprintf(o, "%s%lld", i ? "," : "", b->swrites[i] - a->swrites[i]);
  fprintf(o, "],");
  fprintf(o, "\"coreBusy\":[");
  for (int i = 0; i < 2; i++) fprintf(o, "%s%.4f", i ? "," : "", (double)(b->busy[i] - a->busy[i]) / (double)(b->total[i] - a->total[i] > 0 ? b->total[i] - a->total[i] : 1));
  fprintf(o, "],\"coreIrq\":[");
  for (int i = 0; i < 2; i++) fprintf(o, "%s%.4f", i ? "," : "", (double)(b->irq[i] - a->irq[i]) / (double)(b->total[i] - a->total[i] > 0 ? b->total[i] - a->total[i] : 1));
  fprintf(o, "],\"checked\":%llu,\"badFrames\":%llu,\"resets\":%llu,\"published\":%llu,", (unsigned long long)checked,
          (unsigned long long)bad_frames, (unsigned long long)resets, (unsigned long long)pub_sent);
  if (mode == M_BROADCAST || mode == M_FANOUT) {
    uint64_t mn = UINT64_MAX, mx = 0;
    for (int i = 0; i < nconns; i++) { uint64_t r = conns[i].received; if (r < mn) mn = r; if (r > mx) mx = r; }
    fprintf(o, "\"perSubscriberMin\":%llu,\"perSubscriberMax\":%llu,", (unsigned long long)mn, (unsigned long long)mx);
    if (mode == M_FANOUT) fprintf(o, "\"longestGapMs\":%.1f,", longest_gap * 1e3);
  }
  if ((mode == M_BROADCAST || mode == M_FANOUT) && hist_n > 0) {
    double q[3] = {0.5, 0.99, 0.999}; double v[3] = {0};
    for (int k = 0; k < 3; k++) {
      uint64_t want = (uint64_t)(q[k] * (double)hist_n), acc = 0;
      for (uint32_t i = 0; i < HMAX; i++) { acc += hist[i]; if (acc > want) { v[k] = i; break; } }
    }
    fprintf(o, "\"latencyP50Us\":%.0f,\"latencyP99Us\":%.0f,\"latencyP999Us\":%.0f,\"completed\":%llu,", v[0], v[1], v[2], (unsigned long long)completed);
  }
  if (pool_file) {
    fprintf(o, "\"poolDocs\":%d,\"clientWindowBits\":%d,\"requestPlain\":%llu,\"requestCompressed\":%llu,\"replyPlain\":%llu,\"replyCompressed\":%llu,\"repliesUncompressed\":%llu,",
            npool, pool_wbits, (unsigned long long)req_plain, (unsigned long long)req_comp, (unsigned long long)reply_plain,
            (unsigned long long)reply_comp, (unsigned long long)reply_uncompressed);
  }
  fprintf(o, "\"mismatches\":%llu,\"ready\":%llu,", (unsigned long long)mismatches, (unsigned long long)ready);
  fprintf(o, "\"nofile\":[%lld,%lld],\"errorCount\":%llu,\"errors\":[", (long long)nofile.rlim_cur, (long long)nofile.rlim_max,
          (unsigned long long)error_count);
  for (int i = 0; i < nerrors; i++) { if (i) fputc(',', o); json_str(o, errors[i]); }
  fprintf(o, "]}\n");
  fflush(o);
}

/* ---- main -------------------------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END); long sz = ftell(f); fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)sz + 1);
  *n = fread(b, 1, (size_t)sz, f); fclose(f);
  return b;
}

static void fatal(const char *msg) {
  printf("{\"fatal\":"); json_str(stdout, msg); printf("}\n"); fflush(stdout); exit(1);
}

static void check_timeouts(double t) {
  for (int i = 0; i < nconns + (mode == M_BROADCAST || mode == M_FANOUT); i++) {
    conn *c = &conns[i];
    if ((c->state == S_CONNECTING || c->state == S_HS || c->state == S_CLOSING) && t > c->deadline) {
      err("connection %d: timed out (state %d)", c->index, c->state);
      drop(c, 1); failed++;
    }
  }
}

/* Fan-out: nothing delivered for a while; says where each port's subscribers are (stderr, once a second). */
static void stall_report(double t) {
  static double said = 0;
  if (t - said < 1.0) return;
  said = t;
  fprintf(stderr, "loadgen: no delivery for %.0f ms; published %llu, publisher %s, %zu bytes unwritten;",
          (t - last_delivery) * 1e3, (unsigned long long)pub_sent, conns[nconns].state == S_OPEN ? "open" : "closed", conns[nconns].olen - conns[nconns].ooff);
  for (int k = 0; k < nports; k++) {
    uint64_t mn = UINT64_MAX, mx = 0;
    for (int i = k; i < nconns; i += nports) { uint64_t r = conns[i].received; if (r < mn) mn = r; if (r > mx) mx = r; }
    fprintf(stderr, " port %d: received %llu–%llu;", ports[k], (unsigned long long)mn, (unsigned long long)mx);
  }
  fputc('\n', stderr);
}

/* Opens connections until `target` are open (or have failed), at most `connect_concurrency` at once. */
static void establish(int total, double limit) {
  struct epoll_event evs[512];
  int next = 0;
  double last = 0;
  while ((mode == M_IDLE && frame ? (int)ready : opened) + failed < total) {
    int pending = started - opened - failed;
    while (next < total && pending < connect_concurrency) { start_conn(&conns[next++]); pending++; }
    int n = epoll_wait(epfd, evs, 512, 10);
    for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
    double t = now();
    if (t - last > 0.1) { check_timeouts(t); last = t; }
    if (t > limit) { err("setup: only %d of %d connections open in time", opened, total); break; }
  }
}

static volatile sig_atomic_t stop_signal = 0;
static void on_signal(int s) { (void)s; stop_signal = 1; }

/* ---- serve: a native echo server for the client workload --------------------------------- */

typedef struct sconn {
  int fd;
  int open;             /* past the opening handshake */
  int closing;
  uint8_t *in; size_t inlen, incap;
  uint8_t *out; size_t outlen, outoff, outcap;
  uint32_t events;
} sconn;

static uint64_t served = 0;

static void s_events(sconn *s, uint32_t ev) {
  if (s->events == ev) return;
  struct epoll_event e = {.events = ev, .data.ptr = s};
  epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &e);
  s->events = ev;
}

static void s_free(sconn *s) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  free(s->in); free(s->out); free(s);
}

static void s_append(sconn *s, const uint8_t *p, size_t n) {
  if (s->outlen + n > s->outcap) { s->outcap = (s->outlen + n) * 2 + 4096; s->out = realloc(s->out, s->outcap); }
  memcpy(s->out + s->outlen, p, n); s->outlen += n;
}

/* Writes what is queued; returns 0 when the connection was freed. */
static int s_flush(sconn *s) {
  while (s->outoff < s->outlen) {
    ssize_t w = write(s->fd, s->out + s->outoff, s->outlen - s->outoff);
    if (w < 0) { if (errno == EAGAIN || errno == EINTR) break; s_free(s); return 0; }
    s->outoff += (size_t)w;
  }
  if (s->outoff == s->outlen) {
    s->outoff = s->outlen = 0;
    if (s->closing) { shutdown(s->fd, SHUT_WR); s_free(s); return 0; }
  }
  s_events(s, s->outlen ? EPOLLIN | EPOLLOUT : EPOLLIN);
  return 1;
}

/* Parses what is buffered: the upgrade request, then masked client frames, echoed unmasked. */
static int s_parse(sconn *s) {
  size_t off = 0;
  if (!s->open) {
    uint8_t *end = memmem(s->in, s->inlen, "\r\n\r\n", 4);
    if (!end) return s->inlen < 8192;
    *end = 0;
    char key[64];
    if (header_value((char *)s->in, "Sec-WebSocket-Key", key, sizeof key) != 1) return 0;
    char cat[128]; snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    uint8_t digest[20]; sha1((uint8_t *)cat, strlen(cat), digest);
    char acc[32]; base64(digest, 20, acc);
    char resp[256];
    int n = snprintf(resp, sizeof resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
    s_append(s, (uint8_t *)resp, (size_t)n);
    off = (size_t)(end - s->in) + 4;
    s->open = 1;
  }
  for (;;) {
    size_t avail = s->inlen - off;
    if (avail < 2) break;
    uint8_t *p = s->in + off;
    uint64_t len = p[1] & 0x7f; size_t h = 2;
    if (!(p[1] & 0x80)) return 0; /* RFC 6455 §5.1: a client frame must be masked */
    if (len == 126) { if (avail < 4) break; len = (uint64_t)p[2] << 8 | p[3]; h = 4; }
    else if (len == 127) { if (avail < 10) break; len = 0; for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i]; h = 10; }
    if (len > (1u << 24)) return 0;
    if (avail < h + 4 + len) break;
    uint8_t *mask = p + h, *pl = p + h + 4;
    for (uint64_t i = 0; i < len; i++) pl[i] ^= mask[i & 3];
    int opcode = p[0] & 15;
    uint8_t hdr[10]; size_t hl = 2;
    hdr[0] = (uint8_t)(0x80 | (opcode == 9 ? 10 : opcode));
    if (len < 126) hdr[1] = (uint8_t)len;
    else if (len < 65536) { hdr[1] = 126; hdr[2] = (uint8_t)(len >> 8); hdr[3] = (uint8_t)len; hl = 4; }
    else { hdr[1] = 127; for (int i = 0; i < 8; i++) hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i)); hl = 10; }
    if (opcode != 10) { s_append(s, hdr, hl); s_append(s, pl, len); }
    if (opcode == 1 || opcode == 2) served++;
    off += h + 4 + len;
    if (opcode == 8) { s->closing = 1; break; }
  }
  memmove(s->in, s->in + off, s->inlen - off);
  s->inlen -= off;
  return 1;
}

static int serve(void) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(0x7f000001u);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0) fatal("cannot listen");
  socklen_t al = sizeof a; getsockname(lfd, (struct sockaddr *)&a, &al);
  epfd = epoll_create1(0);
  struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le);
  printf("{\"event\":\"listening\",\"port\":%d}\n", ntohs(a.sin_port)); fflush(stdout);
  struct rusage r0; getrusage(RUSAGE_SELF, &r0); double t0 = now();
  struct epoll_event evs[512];
  while (!stop_signal) {
    int n = epoll_wait(epfd, evs, 512, 100);
    for (int i = 0; i < n; i++) {
      sconn *s = evs[i].data.ptr;
      if (!s) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          sconn *ns = calloc(1, sizeof *ns);
          ns->fd = fd; ns->incap = 65536; ns->in = malloc(ns->incap); ns->events = EPOLLIN;
          struct epoll_event e = {.events = EPOLLIN, .data.ptr = ns};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
        }
        continue;
      }
      if (evs[i].events & EPOLLOUT) { if (!s_flush(s)) continue; }
      if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || s->closing) continue;
      int alive = 1;
      for (;;) {
        if (s->inlen == s->incap) { s->incap *= 2; s->in = realloc(s->in, s->incap); }
        ssize_t r = read(s->fd, s->in + s->inlen, s->incap - s->inlen);
        if (r > 0) { s->inlen += (size_t)r; if (s->inlen < s->incap) break; continue; }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
        s_free(s); alive = 0; break;
      }
      if (!alive) continue;
      if (!s_parse(s)) { s_free(s); continue; }
      s_flush(s);
    }
  }
  struct rusage r1; getrusage(RUSAGE_SELF, &r1);
  double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
               (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
  printf("{\"event\":\"stopped\",\"messages\":%llu,\"seconds\":%.3f,\"cpu\":%.3f}\n", (unsigned long long)served, now() - t0, cpu);
  return 0;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
#define OPT(name) (strcmp(a, name) == 0 && ++i)
    if (OPT("--mode")) mode = !strcmp(v, "echo") ? M_ECHO : !strcmp(v, "broadcast") ? M_BROADCAST : !strcmp(v, "fanout") ? M_FANOUT : !strcmp(v, "handshake") ? M_HANDSHAKE : !strcmp(v, "idle") ? M_IDLE : !strcmp(v, "serve") ? M_SERVE : -1;
    else if (OPT("--port")) port = atoi(v);
    else if (OPT("--ports")) { nports = 0; for (const char *q = v; *q && nports < MAXPORTS; q = strchr(q, ',') ? strchr(q, ',') + 1 : q + strlen(q)) ports[nports++] = atoi(q); }
    else if (OPT("--path")) path = v;
    else if (OPT("--pub-path")) pub_path = v;
    else if (OPT("--settle")) settle_ms = atol(v);
    else if (OPT("--conns")) nconns = atoi(v);
    else if (OPT("--inflight")) inflight = atoi(v);
    else if (OPT("--warmup")) warmup_ms = atol(v);
    else if (OPT("--duration")) duration_ms = atol(v);
    else if (OPT("--server-pid")) { server_pids[0] = atoi(v); nserver_pids = 1; }
    else if (OPT("--server-pids")) { nserver_pids = 0; for (const char *q = v; *q && nserver_pids < MAXPIDS; q = strchr(q, ',') ? strchr(q, ',') + 1 : q + strlen(q)) server_pids[nserver_pids++] = atoi(q); }
    else if (OPT("--extensions")) extensions = v;
    else if (OPT("--frame-file")) frame_file = v;
    else if (OPT("--message-file")) message_file = v;
    else if (OPT("--pool-file")) pool_file = v;
    else if (OPT("--expect-opcode")) expect_opcode = atoi(v);
    else if (OPT("--expect-rsv1")) expect_rsv1 = atoi(v);
    else if (OPT("--expect-len")) expect_len = atoll(v);
    else if (OPT("--connect-concurrency")) connect_concurrency = atoi(v);
    else if (OPT("--source-ips")) source_ips = atoi(v);
    else { fprintf(stderr, "unknown option %s\n", a); fatal("bad arguments"); }
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  if (mode == M_SERVE) return serve();
  if (nports == 0 && port > 0) ports[nports++] = port;
  for (int i = 0; i < nports; i++) if (ports[i] <= 0) fatal("bad --ports");
  if (mode < 0 || nports == 0 || nconns <= 0) fatal("need --mode and --port");
  if (nports > 1 && mode != M_FANOUT) fatal("--ports is for fanout");
  rng ^= (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);

  /* As many descriptors as the hard limit allows. */
  getrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < nofile.rlim_max) { nofile.rlim_cur = nofile.rlim_max; setrlimit(RLIMIT_NOFILE, &nofile); getrlimit(RLIMIT_NOFILE, &nofile); }
  if ((rlim_t)nconns + 64 > nofile.rlim_cur) fatal("RLIMIT_NOFILE too low for --conns");

  if (extensions && *extensions) snprintf(request_tail, sizeof request_tail, "Sec-WebSocket-Extensions: %s\r\n", extensions);
  if (message_file) { msg = read_file(message_file, &msglen); if (!msg) fatal("cannot read --message-file"); }
  if (pool_file) { if (mode != M_ECHO) fatal("--pool-file is for echo"); load_pool(); if (npool == 0) fatal("empty --pool-file"); }
  if (((mode == M_ECHO && !pool_file) || mode == M_BROADCAST) && !frame_file) fatal("--frame-file is required for echo and broadcast");
  if (mode == M_FANOUT) {
    /* RFC 6455 §5.3: client frames are masked. A binary frame, FIN set; the payload is the
     * message with its first 8 bytes replaced by the sequence number when sent. */
    if (!msg || msglen < 8 || msglen > 125) fatal("fanout needs a --message-file of 8 to 125 bytes");
    fan_frame[0] = 0x82; fan_frame[1] = (uint8_t)(0x80 | msglen);
    memcpy(fan_frame + 2, fan_mask, 4);
    for (size_t i = 0; i < msglen; i++) fan_frame[6 + i] = (i < 8 ? 0 : msg[i]) ^ fan_mask[i & 3];
    fan_flen = 6 + msglen; flen = fan_flen;
    obuf_mode = 1;
  }
  if (pool_file) obuf_mode = 1;
  if (frame_file && mode != M_FANOUT) {
    frame = read_file(frame_file, &flen);
    if (!frame || flen < 6) fatal("cannot read --frame-file");
    /* inflight + 1 copies: any window of up to `inflight` frames from any offset in the first is contiguous. */
    int copies = inflight > 0 ? inflight : 1;
    batchlen = flen * (size_t)(copies + 1);
    batch = malloc(batchlen);
    for (int i = 0; i <= copies; i++) memcpy(batch + (size_t)i * flen, frame, flen);
  }
  int has_pub = mode == M_BROADCAST || mode == M_FANOUT;
  if (has_pub) hist = calloc(HMAX, sizeof *hist);

  epfd = epoll_create1(0);
  int total = nconns + has_pub;
  conns = calloc((size_t)total, sizeof(conn));
  /* Subscribers spread evenly over the ports; the publisher on the first. */
  for (int i = 0; i < total; i++) { conns[i].index = i; conns[i].state = S_FREE; conns[i].port = ports[i % nports]; }
  if (has_pub) { conns[nconns].publisher = 1; conns[nconns].port = ports[0]; }

  double t0 = now();
  snap a, b;
  struct epoll_event evs[512];

  if (mode == M_HANDSHAKE) {
    for (int i = 0; i < nconns; i++) start_conn(&conns[i]);
    double warm_end = t0 + warmup_ms / 1e3, end = warm_end + duration_ms / 1e3, last = 0;
    while (!stop_signal) {
      int n = epoll_wait(epfd, evs, 512, 10);
      for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
      double t = now();
      if (t - last > 0.1) { check_timeouts(t); last = t; }
      for (int i = 0; i < nconns; i++) if (conns[i].state == S_FREE) start_conn(&conns[i]);
      if (!measuring && t >= warm_end) { take(&a); measuring = 1; }
      if (measuring && t >= end) break;
    }
    take(&b);
    running = 0;
    report(&a, &b);
    return 0;
  }

  establish(total, t0 + 60.0);
  setup_seconds = now() - t0;
  finished_setup = 1;

  if (mode == M_IDLE) {
    take(&a);
    printf("{\"event\":\"open\",\"opened\":%d,\"ready\":%llu,\"failed\":%d,\"setupSeconds\":%.3f}\n", opened, (unsigned long long)ready, failed, setup_seconds);
    fflush(stdout);
    /* Hold the connections, unread, until stdin closes. */
    char tmp[64];
    while (!stop_signal && read(0, tmp, sizeof tmp) > 0) {}
    take(&b);
    running = 0;
    report(&a, &b);
    return 0;
  }

  conn *pub = has_pub ? &conns[nconns] : NULL;
  if (settle_ms > 0) {
    /* Nothing is published yet: let the servers' subscriptions reach their brokers. */
    double until = now() + settle_ms / 1e3;
    while (!stop_signal && now() < until) {
      int n = epoll_wait(epfd, evs, 512, 10);
      for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
    }
  }
  double start = now(), warm_end = start + warmup_ms / 1e3, end = warm_end + duration_ms / 1e3, last = 0;
  while (!stop_signal) {
    if (mode == M_FANOUT && pub->state == S_OPEN && pub->olen == 0) {
      /* On average over the subscribers, at most `inflight` messages outstanding. */
      double outstanding = (double)pub_sent - (double)messages / nconns;
      int want = (int)((double)inflight - outstanding + 0.999999);
      if (want > inflight) want = inflight;
      if (want > 0) {
        size_t need = (size_t)want * fan_flen;
        if (need > pub->ocap) { pub->ocap = need; pub->obuf = realloc(pub->obuf, need); }
        double t = now();
        for (int k = 0; k < want; k++) {
          uint64_t seq = pub_sent++;
          uint8_t *f = pub->obuf + pub->olen;
          memcpy(f, fan_frame, fan_flen);
          for (int i = 0; i < 8; i++) f[6 + i] = (uint8_t)(seq >> (8 * i)) ^ fan_mask[i & 3];
          pub->olen += fan_flen;
          bsent[seq % BRING] = t;
        }
        flush(pub);
      }
    } else if (mode == M_BROADCAST && pub->state == S_OPEN && pub->pend == 0) {
      /* End to end: a message is outstanding until every subscriber has it. */
      int want = (int)((uint64_t)inflight - (pub_sent - completed));
      if (want > 0) {
        double t = now();
        for (int k = 0; k < want; k++) bsent[(pub_sent + (uint64_t)k) % BRING] = t;
        pub->pend = (uint64_t)want * flen; pub_sent += (uint64_t)want; flush(pub);
      }
    }
    int n = epoll_wait(epfd, evs, 512, 10);
    for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
    double t = now();
    if (t - last > 0.1) { check_timeouts(t); last = t; }
    if (!measuring && t >= warm_end) { take(&a); measuring = 1; last_delivery = t; }
    if (measuring && t >= end) break;
    if (mode == M_FANOUT && measuring && t - last_delivery > 0.5 && t - last > 0.09) stall_report(t);
  }
  take(&b);
  running = 0;
  if (mode == M_FANOUT && measuring && b.t - last_delivery > longest_gap) longest_gap = b.t - last_delivery;
  report(&a, &b);
  return 0;
}
