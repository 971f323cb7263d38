// A DEFLATE encoder (RFC 1951) for whole WebSocket messages without context takeover,
// compiled to WebAssembly by scripts/build-wasm.sh (clang, no libc). Why it exists: for a
// message of a few KiB, zlib spends more time on per-block fixed costs (building Huffman
// trees with a heap, clearing a 64 KiB hash table on each full flush) than on the data
// (bench/RESULTS.md). This encoder is built for that case:
//   - greedy LZ77 with one candidate per 4-byte hash, in a table whose entries carry a
//     running base, so a new message needs no clearing;
//   - code lengths by Moffat and Katajainen's in-place algorithm over symbols sorted by
//     frequency (linear after the sort), limited to 15 bits by flattening the counts;
//   - one block, dynamic, fixed or stored, whichever is smallest, counted exactly;
//   - the message ends like a sync flush (an empty stored block) minus its 00 00 ff ff,
//     which is what RFC 7692 §7.2.1 sends.
// The caller writes the message at enc_input(), calls encode(n, windowBits) and reads the
// returned number of bytes at enc_output(). Inputs over enc_capacity() are not accepted.
#include <stdint.h>

#define CAPACITY (64 * 1024)
#define HASH_BITS 14
#define MAX_MATCH 258

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

static u8 in_buf[CAPACITY];
// Never more than a stored encoding: n + 5 bytes per 65,535 + 1 for the end.
static u8 out_buf[CAPACITY + 64];
// One entry per literal (the byte) or match (distance << 9 | length).
static u32 syms[CAPACITY];
static u32 head[1 << HASH_BITS];
static u32 base = 1;

// RFC 1951 §3.2.5: length and distance codes, their bases and extra bits.
static const u16 len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const u8 len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const u16 dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                  193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
                                  6145, 8193, 12289, 16385, 24577};
static const u8 dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                  6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// RFC 1951 §3.2.7: the order in which code length code lengths are sent.
static const u8 cl_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

static u8 len_code[256];  // length - 3 -> length code - 257
static u8 dist_code[512]; // distance - 1 below 256, else 256 + ((distance - 1) >> 7)

static u32 lit_freq[288], dist_freq[32], cl_freq[19];
static u8 lit_len[288], dist_len[32], cl_len[19];
static u16 lit_code[288], dist_code_bits[32], cl_code[19];
static u8 fixed_lit_len[288], fixed_dist_len[32];
static u16 fixed_lit_code[288], fixed_dist_code[32];

static u32 sorted[288]; // frequency << 9 | symbol
static u32 weight[288];
// The code lengths sent in the header, run-length coded: symbol | extra value << 8.
static u16 rle[288 + 32];
static u8 lengths[288 + 32];

static inline u32 load32(const u8 *p) {
  u32 v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// The hash table slot of the 4 bytes at p (multiplicative hashing).
static inline u32 hash4(const u8 *p) {
  return (load32(p) * 2654435761u) >> (32 - HASH_BITS);
}

static inline u32 dcode(u32 d) {
  return d <= 256 ? dist_code[d - 1] : dist_code[256 + ((d - 1) >> 7)];
}

static u8 rev8[256]; // each byte with its bits in reverse order

static inline u32 reverse(u32 code, u32 len) {
  return ((u32)rev8[code & 255] << 8 | rev8[code >> 8]) >> (16 - len);
}

// Canonical codes (RFC 1951 §3.2.2), bit-reversed because bits go out least significant first.
// `used` lists the symbols with a length (all, when NULL), in increasing order.
static void gen_codes(const u8 *len, u32 n, u16 *code, const u16 *used, u32 m) {
  u32 count[16] = {0}, next[16];
  if (!used) {
    for (u32 s = 0; s < n; s++) count[len[s]]++;
  } else {
    for (u32 i = 0; i < m; i++) count[len[used[i]]]++;
  }
  count[0] = 0;
  u32 c = 0;
  for (u32 b = 1; b < 16; b++) {
    c = (c + count[b - 1]) << 1;
    next[b] = c;
  }
  if (!used) {
    for (u32 s = 0; s < n; s++) {
      if (len[s]) code[s] = (u16)reverse(next[len[s]]++, len[s]);
    }
  } else {
    for (u32 i = 0; i < m; i++) {
      u32 s = used[i];
      code[s] = (u16)reverse(next[len[s]]++, len[s]);
    }
  }
}

static int initialized = 0;

static void init(void) {
  for (u32 i = 0; i < 256; i++) {
    u32 r = 0;
    for (u32 k = 0; k < 8; k++) r |= ((i >> k) & 1) << (7 - k);
    rev8[i] = (u8)r;
  }
  // Code 27 would reach 258 with its 5 extra bits, but 258 has a code of its own (28).
  for (u32 c = 0; c < 28; c++) {
    u32 end = len_base[c] + (1u << len_extra[c]);
    for (u32 l = len_base[c]; l < end && l < 258; l++) len_code[l - 3] = (u8)c;
  }
  len_code[258 - 3] = 28;
  for (u32 c = 0; c < 30; c++) {
    u32 end = dist_base[c] + (1u << dist_extra[c]);
    for (u32 d = dist_base[c]; d < end; d++) {
      if (d <= 256) dist_code[d - 1] = (u8)c;
      else dist_code[256 + ((d - 1) >> 7)] = (u8)c;
    }
  }
  // RFC 1951 §3.2.6: the fixed code lengths.
  for (u32 s = 0; s < 288; s++) fixed_lit_len[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
  for (u32 s = 0; s < 32; s++) fixed_dist_len[s] = 5;
  gen_codes(fixed_lit_len, 288, fixed_lit_code, 0, 0);
  gen_codes(fixed_dist_len, 32, fixed_dist_code, 0, 0);
  initialized = 1;
}

static u32 sort_tmp[288];

// Sorts keys (frequency << 9 | symbol) by frequency: insertion sort when there are few,
// else a radix sort on the frequency's bytes (one pass while all counts are under 256).
static void sort(u32 *a, u32 n) {
  if (n <= 24) {
    for (u32 i = 1; i < n; i++) {
      u32 v = a[i], j = i;
      while (j > 0 && a[j - 1] > v) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = v;
    }
    return;
  }
  u32 max = 0;
  for (u32 i = 0; i < n; i++) max = a[i] > max ? a[i] : max;
  u32 *src = a, *dst = sort_tmp;
  for (u32 shift = 9; (max >> shift) != 0 || shift == 9; shift += 8) {
    // Only as many buckets as this byte of the largest count needs (small messages: few).
    u32 buckets = (max >> shift) >= 255 ? 256 : (max >> shift) + 1;
    u32 start[256];
    __builtin_memset(start, 0, buckets * 4);
    for (u32 i = 0; i < n; i++) start[(src[i] >> shift) & 255]++;
    for (u32 b = 0, sum = 0; b < buckets; b++) {
      u32 c = start[b];
      start[b] = sum;
      sum += c;
    }
    for (u32 i = 0; i < n; i++) dst[start[(src[i] >> shift) & 255]++] = src[i];
    u32 *t = src;
    src = dst;
    dst = t;
  }
  if (src != a) __builtin_memcpy(a, src, n * 4);
}

// Minimum-redundancy code lengths for weights a[0..n) in ascending order, in place
// (Moffat and Katajainen, "In-place calculation of minimum-redundancy codes", 1995).
static void lengths_in_place(u32 *a, int n) {
  int root = 0, leaf = 2, next;
  a[0] += a[1];
  for (next = 1; next < n - 1; next++) {
    if (leaf >= n || a[root] < a[leaf]) {
      a[next] = a[root];
      a[root++] = (u32)next;
    } else {
      a[next] = a[leaf++];
    }
    if (leaf >= n || (root < next && a[root] < a[leaf])) {
      a[next] += a[root];
      a[root++] = (u32)next;
    } else {
      a[next] += a[leaf++];
    }
  }
  a[n - 2] = 0;
  for (next = n - 3; next >= 0; next--) a[next] = a[a[next]] + 1;
  int avail = 1, used = 0, depth = 0;
  root = n - 2;
  next = n - 1;
  while (avail > 0) {
    while (root >= 0 && (int)a[root] == depth) {
      used++;
      root--;
    }
    while (avail > used) {
      a[next--] = (u32)depth;
      avail--;
    }
    avail = 2 * used;
    depth++;
    used = 0;
  }
}

// Code lengths of at most `limit` bits for `freq[0..n)`; lists the symbols given a length
// in `used`, in increasing order, and returns their number. Every code is complete: fewer
// than two used symbols get two codes of one bit, as zlib does, so any inflater takes it.
static u32 build_lengths(const u32 *freq, u32 n, u32 limit, u8 *len, u16 *used) {
  u32 m = 0;
  for (u32 s = 0; s < n; s++) {
    len[s] = 0;
    if (freq[s]) {
      used[m] = (u16)s;
      sorted[m++] = freq[s] << 9 | s;
    }
  }
  if (m < 2) {
    u32 s = m ? used[0] : 0, t = s == 0 ? 1 : 0;
    len[s] = len[t] = 1;
    used[0] = (u16)(s < t ? s : t);
    used[1] = (u16)(s < t ? t : s);
    return 2;
  }
  sort(sorted, m);
  for (u32 shift = 0;; shift++) {
    // Flattening the counts keeps their order, so `sorted` stays sorted.
    for (u32 i = 0; i < m; i++) weight[i] = shift ? ((sorted[i] >> 9) >> shift) + 1 : sorted[i] >> 9;
    lengths_in_place(weight, (int)m);
    if (weight[0] <= limit) break;
  }
  for (u32 i = 0; i < m; i++) len[sorted[i] & 511] = (u8)weight[i];
  return m;
}

static u16 lit_used[288], dist_used[32], cl_used[19];
static u32 lit_count, dist_count;

// Bits go out least significant first (RFC 1951 §3.1.1). Loops copy the writer into a
// local, which the compiler keeps in registers, and store it back when done.
typedef struct {
  u64 bits;
  u32 count;
  u8 *out;
} Writer;
static Writer writer;

static inline void put(Writer *w, u32 value, u32 n) {
  w->bits |= (u64)value << w->count;
  w->count += n;
  if (w->count >= 32) {
    u32 low = (u32)w->bits;
    __builtin_memcpy(w->out, &low, 4);
    w->out += 4;
    w->bits >>= 32;
    w->count -= 32;
  }
}

// Pads to a byte boundary and writes out what is held.
static void align(Writer *w) {
  while (w->count > 0) {
    *w->out++ = (u8)w->bits;
    w->bits >>= 8;
    w->count = w->count > 8 ? w->count - 8 : 0;
  }
  w->bits = 0;
}

static void put_symbols(u32 count, const u16 *lc, const u8 *ll, const u16 *dc, const u8 *dl) {
  Writer w = writer;
  for (u32 i = 0; i < count; i++) {
    u32 s = syms[i];
    if (s < 256) {
      put(&w, lc[s], ll[s]);
    } else {
      u32 length = s & 511, distance = s >> 9;
      u32 c = len_code[length - 3];
      put(&w, lc[257 + c] | (length - len_base[c]) << ll[257 + c], ll[257 + c] + len_extra[c]);
      u32 d = dcode(distance);
      put(&w, dc[d] | (distance - dist_base[d]) << dl[d], dl[d] + dist_extra[d]);
    }
  }
  put(&w, lc[256], ll[256]);
  writer = w;
}

// Bits of the symbols under code lengths `ll` and `dl`, extra bits included.
static u32 data_bits(const u8 *ll, const u8 *dl) {
  u32 total = 0;
  for (u32 i = 0; i < lit_count; i++) {
    u32 s = lit_used[i];
    total += lit_freq[s] * (ll[s] + (s > 256 ? len_extra[s - 257] : 0));
  }
  for (u32 i = 0; i < dist_count; i++) {
    u32 d = dist_used[i];
    total += dist_freq[d] * (dl[d] + dist_extra[d]);
  }
  return total;
}

static u32 hlit, hdist, hclen, nrle;

// The dynamic block header (RFC 1951 §3.2.7); returns its size in bits.
static u32 plan_header(void) {
  hlit = 286;
  while (hlit > 257 && lit_len[hlit - 1] == 0) hlit--;
  hdist = 30;
  while (hdist > 1 && dist_len[hdist - 1] == 0) hdist--;
  u32 total = hlit + hdist;
  for (u32 i = 0; i < hlit; i++) lengths[i] = lit_len[i];
  for (u32 i = 0; i < hdist; i++) lengths[hlit + i] = dist_len[i];
  for (u32 i = 0; i < 19; i++) cl_freq[i] = 0;
  nrle = 0;
  for (u32 i = 0; i < total;) {
    u32 v = lengths[i], run = 1;
    while (i + run < total && lengths[i + run] == v) run++;
    i += run;
    if (v == 0) {
      while (run >= 11) {
        u32 r = run > 138 ? 138 : run;
        rle[nrle++] = (u16)(18 | (r - 11) << 8);
        cl_freq[18]++;
        run -= r;
      }
      if (run >= 3) {
        rle[nrle++] = (u16)(17 | (run - 3) << 8);
        cl_freq[17]++;
        run = 0;
      }
    } else {
      rle[nrle++] = (u16)v;
      cl_freq[v]++;
      run--;
      while (run >= 3) {
        u32 r = run > 6 ? 6 : run;
        rle[nrle++] = (u16)(16 | (r - 3) << 8);
        cl_freq[16]++;
        run -= r;
      }
    }
    while (run > 0) {
      rle[nrle++] = (u16)v;
      cl_freq[v]++;
      run--;
    }
  }
  build_lengths(cl_freq, 19, 7, cl_len, cl_used);
  gen_codes(cl_len, 19, cl_code, 0, 0);
  hclen = 19;
  while (hclen > 4 && cl_len[cl_order[hclen - 1]] == 0) hclen--;
  u32 size = 5 + 5 + 4 + 3 * hclen;
  for (u32 s = 0; s < 19; s++) size += cl_freq[s] * cl_len[s];
  size += cl_freq[16] * 2 + cl_freq[17] * 3 + cl_freq[18] * 7;
  return size;
}

static void put_header(void) {
  Writer w = writer;
  put(&w, hlit - 257, 5);
  put(&w, hdist - 1, 5);
  put(&w, hclen - 4, 4);
  for (u32 i = 0; i < hclen; i++) put(&w, cl_len[cl_order[i]], 3);
  for (u32 i = 0; i < nrle; i++) {
    u32 s = rle[i] & 255, extra = rle[i] >> 8;
    put(&w, cl_code[s], cl_len[s]);
    if (s == 16) put(&w, extra, 2);
    else if (s == 17) put(&w, extra, 3);
    else if (s == 18) put(&w, extra, 7);
  }
  writer = w;
}

// LZ77 into `syms`, counting symbol frequencies; returns the number of symbols.
static u32 lz77(const u8 *p, u32 n, u32 max_distance) {
  for (u32 s = 0; s < 288; s++) lit_freq[s] = 0;
  for (u32 s = 0; s < 32; s++) dist_freq[s] = 0;
  if (base > 0x7fffffffu) {
    for (u32 i = 0; i < (1u << HASH_BITS); i++) head[i] = 0;
    base = 1;
  }
  const u32 b = base;
  base += n + 1;
  u32 count = 0, i = 0;
  if (n >= 4) {
    const u32 last = n - 3; // 4 bytes readable from every i below this
    while (i < last) {
      u32 x = load32(p + i);
      u32 h = hash4(p + i);
      u32 c = head[h];
      head[h] = b + i;
      if (c >= b) {
        u32 from = c - b, distance = i - from;
        if (distance <= max_distance && load32(p + from) == x) {
          u32 length = 4, max = n - i;
          if (max > MAX_MATCH) max = MAX_MATCH;
          for (;;) {
            if (length + 4 <= max) {
              u32 y = load32(p + from + length) ^ load32(p + i + length);
              if (y) {
                length += (u32)__builtin_ctz(y) >> 3;
                break;
              }
              length += 4;
            } else {
              while (length < max && p[from + length] == p[i + length]) length++;
              break;
            }
          }
          syms[count++] = distance << 9 | length;
          lit_freq[257 + len_code[length - 3]]++;
          dist_freq[dcode(distance)]++;
          // Index the positions inside short matches (measured: 2.4% smaller on 16 KiB of
          // text, 0.4% more work), and the last one of longer ones.
          if (length <= 8) {
            u32 e = i + length < last ? i + length : last;
            for (u32 k = i + 1; k < e; k++) head[hash4(p + k)] = b + k;
          } else if (i + length - 1 < last) {
            u32 e = i + length - 1;
            head[hash4(p + e)] = b + e;
          }
          i += length;
          continue;
        }
      }
      syms[count++] = p[i];
      lit_freq[p[i]]++;
      i++;
    }
  }
  for (; i < n; i++) {
    syms[count++] = p[i];
    lit_freq[p[i]]++;
  }
  lit_freq[256] = 1;
  return count;
}

__attribute__((export_name("enc_input"))) u8 *enc_input(void) { return in_buf; }
__attribute__((export_name("enc_output"))) u8 *enc_output(void) { return out_buf; }
__attribute__((export_name("enc_capacity"))) u32 enc_capacity(void) { return CAPACITY; }

// Test only (test/fuzz/deflate-encoder.test.ts): sets the hash table's running base to
// `value` unless 0, and returns it, so a test reaches the rebase past 2^31 without 2 GiB
// of input first. Never lower it: entries at or above a lowered base would be taken as
// positions of the current message. The loader (deflate-encoder.ts) does not expose it.
__attribute__((export_name("enc_test_base"))) u32 enc_test_base(u32 value) {
  if (value) base = value;
  return base;
}

// Compresses in_buf[0..n) with distances of at most 2^window_bits; returns the number of
// bytes written at out_buf (RFC 7692 §7.2.1: without the final 00 00 ff ff).
__attribute__((export_name("encode"))) u32 encode(u32 n, u32 window_bits) {
  if (!initialized) init();
  if (n > CAPACITY) return 0;
  writer.bits = 0;
  writer.count = 0;
  writer.out = out_buf;
  u32 count = lz77(in_buf, n, 1u << window_bits);

  lit_count = build_lengths(lit_freq, 286, 15, lit_len, lit_used);
  dist_count = build_lengths(dist_freq, 30, 15, dist_len, dist_used);
  u32 dynamic = 3 + plan_header() + data_bits(lit_len, dist_len);
  u32 fixed = 3 + data_bits(fixed_lit_len, fixed_dist_len);
  // Stored: 3 header bits, up to 7 to align, LEN and NLEN, per 65,535 bytes.
  u32 blocks = n == 0 ? 1 : (n + 65534) / 65535;
  u32 stored = blocks * (3 + 7 + 32) + n * 8;

  if (stored <= dynamic && stored <= fixed) {
    const u8 *p = in_buf;
    u32 left = n;
    do {
      u32 k = left > 65535 ? 65535 : left;
      put(&writer, 0, 3); // BFINAL 0, BTYPE 00
      align(&writer);
      u8 *out = writer.out;
      out[0] = (u8)k;
      out[1] = (u8)(k >> 8);
      out[2] = (u8)~k;
      out[3] = (u8)(~k >> 8);
      __builtin_memcpy(out + 4, p, k);
      writer.out = out + 4 + k;
      p += k;
      left -= k;
    } while (left > 0);
  } else if (fixed <= dynamic) {
    put(&writer, 1 << 1, 3); // BFINAL 0, BTYPE 01
    put_symbols(count, fixed_lit_code, fixed_lit_len, fixed_dist_code, fixed_dist_len);
  } else {
    gen_codes(lit_len, 286, lit_code, lit_used, lit_count);
    gen_codes(dist_len, 30, dist_code_bits, dist_used, dist_count);
    put(&writer, 2 << 1, 3); // BFINAL 0, BTYPE 10
    put_header();
    put_symbols(count, lit_code, lit_len, dist_code_bits, dist_len);
  }
  // An empty stored block ends the message, as a sync flush would; its LEN and NLEN
  // (00 00 ff ff) are left off, for the receiver to append (RFC 7692 §7.2.1, §7.2.2).
  put(&writer, 0, 3);
  align(&writer);
  return (u32)(writer.out - out_buf);
}
