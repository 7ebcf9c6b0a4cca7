/* The output pipeline's one pass over child output: newlines, the bytes that need more than a copy (ESC, CR,
 * non-ASCII) and every occurrence of a redaction trigger word. Hand-written because it runs over every byte a child
 * prints: no library matches a set of short words case-insensitively at memory speed while also counting lines.
 *
 * Trigger words are found the way Hyperscan's "Teddy" finds literals: each word's first two bytes fall into one of
 * eight buckets (by first letter); six 16-entry tables (low and high nibble of the first, second and third byte) turn
 * 32 bytes at a time into a bucket mask per position with two shuffles each; a position whose three masks share a
 * bucket is a candidate, and only candidates are compared with the bucket's words. No false negatives: a word's own
 * three bytes always share its bucket. Three bytes, not two: English is full of "to", "se" and "ke". */
#define _GNU_SOURCE
#include "heidishim.h"
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "word_head is compared as a little-endian load");

static unsigned char fold_bit(unsigned char byte) {
    unsigned char lower = byte | 0x20;
    return lower >= 'a' && lower <= 'z' ? 0x20 : 0;
}

int heidi_trigger_table_init(heidi_trigger_table *table, const char *const *words, size_t count) {
    memset(table, 0, sizeof *table);
    if (count > HEIDI_TRIGGER_WORDS_MAX) return -1;
    unsigned char firsts[8];
    int buckets = 0;
    for (size_t w = 0; w < count; w++) {
        size_t length = strlen(words[w]);
        if (length < 3 || length > HEIDI_TRIGGER_WORD_LENGTH_MAX) return -1;
        unsigned char first = (unsigned char)words[w][0] | fold_bit((unsigned char)words[w][0]);
        int bucket = 0;
        while (bucket < buckets && firsts[bucket] != first) bucket++;
        if (bucket == buckets) {
            if (buckets == 8) return -1;
            firsts[buckets++] = first;
        }
        table->word_bucket[w] = (unsigned char)(1u << bucket);
        table->bucket_words[bucket][table->bucket_size[bucket]++] = (unsigned char)w;
        table->word_length[w] = (unsigned char)length;
        for (size_t k = 0; k < length; k++) {
            unsigned char byte = (unsigned char)words[w][k];
            table->word_fold[w][k] = fold_bit(byte);
            table->word_text[w][k] = byte | fold_bit(byte);
        }
        // The first eight bytes as one little-endian word, to compare a candidate with one load.
        for (size_t k = 0; k < length && k < 8; k++) {
            table->word_head[w] |= (uint64_t)table->word_text[w][k] << (8 * k);
            table->word_head_fold[w] |= (uint64_t)table->word_fold[w][k] << (8 * k);
            table->word_head_mask[w] |= (uint64_t)0xff << (8 * k);
        }
        for (int position = 0; position < 3; position++) {
            unsigned char byte = table->word_text[w][position];
            unsigned char variants[2] = {byte, (unsigned char)(byte & ~table->word_fold[w][position])};
            for (int v = 0; v < 2; v++) {
                table->nibble_low[position][variants[v] & 15] |= table->word_bucket[w];
                table->nibble_high[position][variants[v] >> 4] |= table->word_bucket[w];
            }
        }
    }
    table->word_count = (unsigned char)count;
    return 0;
}

/* What each byte is to an assignment (SecretPatterns' name characters `[A-Za-z0-9_.-]`, ASCII whitespace, quotes,
 * separators) and bytes >= 0x80, which may begin Unicode whitespace. A table: this runs for every trigger word. */
enum { NAME = 1, SPACE = 2, QUOTE = 4, SEPARATOR = 8, HIGH = 16 };
static const unsigned char byte_class[256] = {
    ['a' ... 'z'] = NAME, ['A' ... 'Z'] = NAME, ['0' ... '9'] = NAME, ['_'] = NAME, ['.'] = NAME, ['-'] = NAME,
    [' '] = SPACE, ['\t' ... '\r'] = SPACE, ['"'] = QUOTE, ['\''] = QUOTE, ['='] = SEPARATOR, [':'] = SEPARATOR,
    [0x80 ... 0xff] = HIGH,
};

int heidi_trigger_table_require_separator(heidi_trigger_table *table, size_t word) {
    if (word >= table->word_count) return -1;
    // The name run is skipped from the word's end: every byte of the word must be one of a name.
    for (size_t k = 0; k < table->word_length[word]; k++) {
        if (!(byte_class[table->word_text[word][k]] & NAME)) return -1;
    }
    table->word_needs_separator[word] = 1;
    return 0;
}

/* Whether an assignment's separator may follow the name run that goes on at `index` (the end of a trigger word):
 * SecretPatterns' separatorEnd (an optional quote, whitespace, `=` or `:`) with any byte >= 0x80 or the buffer's end
 * counted as a maybe. Most trigger words of ordinary output ("tokens/s", "monkey") fail at the first byte after
 * the name. */
static inline int may_be_assigned(const unsigned char *bytes, size_t count, size_t index) {
    while (index < count && (byte_class[bytes[index]] & NAME)) index++;
    if (index < count && (byte_class[bytes[index]] & QUOTE)) index++;
    while (index < count && (byte_class[bytes[index]] & SPACE)) index++;
    return index >= count || (byte_class[bytes[index]] & (SEPARATOR | HIGH));
}

static inline int word_at(const unsigned char *bytes, size_t count, size_t offset, const heidi_trigger_table *table,
                          size_t w) {
    size_t length = table->word_length[w], left = count - offset, k = 0;
    if (left >= 8) {
        uint64_t head;
        memcpy(&head, bytes + offset, 8);
        if (((head | table->word_head_fold[w]) & table->word_head_mask[w]) != table->word_head[w]) return 0;
        if (length <= 8) return 1;  // most words: one load and compare
        k = 8;
    } else if (left < length) {
        return 0;
    }
    for (; k < length; k++) {
        if ((bytes[offset + k] | table->word_fold[w][k]) != table->word_text[w][k]) return 0;
    }
    return 1;
}

/* Compares the words of `buckets` (not 0) at `offset` and records each one found (each one that may begin an
 * assignment, for the words that need one, with HEIDI_SCAN_OPTION_ASSIGNMENTS). Inlined: a training log has one on
 * every line. */
static inline __attribute__((always_inline)) void check_candidate(const unsigned char *bytes, size_t count,
                                                                  size_t offset, unsigned buckets,
                                                                  const heidi_trigger_table *table, uint32_t *hits,
                                                                  size_t capacity, size_t *found, int options) {
    do {
        int bucket = __builtin_ctz(buckets);
        buckets &= buckets - 1;
        const unsigned char *words = table->bucket_words[bucket];
        for (int i = 0, size = table->bucket_size[bucket]; i < size; i++) {
            size_t w = words[i];
            if (!word_at(bytes, count, offset, table, w)) continue;
            if ((options & HEIDI_SCAN_OPTION_ASSIGNMENTS) && table->word_needs_separator[w]
                && !may_be_assigned(bytes, count, offset + table->word_length[w]))
                continue;
            if (*found < capacity) hits[*found] = (uint32_t)(offset << 5 | w);
            *found += 1;
        }
    } while (buckets);
}

/* The buckets whose words may start at `bytes[0]` (three bytes are there). */
static unsigned scalar_buckets(const heidi_trigger_table *table, const unsigned char *bytes) {
    unsigned buckets = 0xff;
    for (int position = 0; position < 3; position++) {
        buckets &= table->nibble_low[position][bytes[position] & 15] & table->nibble_high[position][bytes[position] >> 4];
    }
    return buckets;
}

/* Bytes [offset, count) one at a time: the tail after the vector loop, and the whole scan without AVX2. */
static long scan_scalar(const unsigned char *bytes, size_t count, size_t offset, const heidi_trigger_table *table,
                        uint32_t *hits, size_t capacity, size_t *found, int *flags, int options) {
    long lines = 0;
    for (; offset < count; offset++) {
        unsigned char byte = bytes[offset];
        lines += byte == '\n';
        if (byte == 0x1b) *flags |= HEIDI_SCAN_ESCAPE;
        if (byte == '\r') *flags |= HEIDI_SCAN_CARRIAGE_RETURN;
        if (byte >= 0x80) *flags |= HEIDI_SCAN_NON_ASCII;
        if (offset + 2 < count) {
            unsigned buckets = scalar_buckets(table, bytes + offset);
            if (buckets) check_candidate(bytes, count, offset, buckets, table, hits, capacity, found, options);
        }
    }
    return lines;
}

#if defined(__x86_64__)
/* The bucket bits of 32 bytes, from one position's nibble tables (`low`, `high`): one shuffle per nibble. */
__attribute__((target("avx2")))
static inline __m256i vector_buckets(__m256i low, __m256i high, __m256i bytes) {
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    return _mm256_and_si256(_mm256_shuffle_epi8(low, _mm256_and_si256(bytes, nibble)),
                            _mm256_shuffle_epi8(high, _mm256_and_si256(_mm256_srli_epi16(bytes, 4), nibble)));
}

__attribute__((target("avx2")))
static long scan_avx2(const unsigned char *bytes, size_t count, const heidi_trigger_table *table, uint32_t *hits,
                      size_t capacity, size_t *found, int *flags, int options) {
    __m256i lows[3], highs[3];
    for (int position = 0; position < 3; position++) {
        lows[position] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table->nibble_low[position]));
        highs[position] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table->nibble_high[position]));
    }
    const __m256i zero = _mm256_setzero_si256();
    const __m256i escape = _mm256_set1_epi8(0x1b), carriage = _mm256_set1_epi8('\r'), newline = _mm256_set1_epi8('\n');
    long lines = 0;
    // Flags and newlines are gathered in vectors and read out once per 255 steps (a byte counter's limit).
    __m256i escapes = zero, carriages = zero, non_ascii = zero;
    size_t offset = 0;
    // 34 bytes per step: the candidate test looks at each byte and the two after it.
    while (offset + 34 <= count) {
        __m256i newlines = zero;
        // At most 255 steps, none reading past `count`: one comparison per step.
        size_t last = count - 34 < offset + 254 * 32 ? count - 34 : offset + 254 * 32;
        for (; offset <= last; offset += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(bytes + offset));
            __m256i candidates = vector_buckets(lows[0], highs[0], v);
            for (int position = 1; position < 3; position++) {
                __m256i later = _mm256_loadu_si256((const __m256i *)(bytes + offset + position));
                candidates = _mm256_and_si256(candidates, vector_buckets(lows[position], highs[position], later));
            }
            non_ascii = _mm256_or_si256(non_ascii, v);
            escapes = _mm256_or_si256(escapes, _mm256_cmpeq_epi8(v, escape));
            carriages = _mm256_or_si256(carriages, _mm256_cmpeq_epi8(v, carriage));
            newlines = _mm256_sub_epi8(newlines, _mm256_cmpeq_epi8(v, newline));
            unsigned positions = ~(unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(candidates, zero));
            if (positions) {
                unsigned char masks[32];
                _mm256_storeu_si256((__m256i *)masks, candidates);
                while (positions) {
                    int k = __builtin_ctz(positions);
                    check_candidate(bytes, count, offset + (size_t)k, masks[k], table, hits, capacity, found, options);
                    positions &= positions - 1;
                }
            }
        }
        __m256i sums = _mm256_sad_epu8(newlines, zero);
        lines += _mm256_extract_epi64(sums, 0) + _mm256_extract_epi64(sums, 1) + _mm256_extract_epi64(sums, 2)
            + _mm256_extract_epi64(sums, 3);
    }
    if (_mm256_movemask_epi8(escapes)) *flags |= HEIDI_SCAN_ESCAPE;
    if (_mm256_movemask_epi8(carriages)) *flags |= HEIDI_SCAN_CARRIAGE_RETURN;
    if (_mm256_movemask_epi8(non_ascii)) *flags |= HEIDI_SCAN_NON_ASCII;
    return lines + scan_scalar(bytes, count, offset, table, hits, capacity, found, flags, options);
}
#endif

#if defined(__x86_64__)
/* Whether AVX2 runs here: the CPU has it (CPUID leaf 7) and the kernel saves the YMM registers (OSXSAVE, XCR0 bits 1
 * and 2). Asked on the first scan and kept, not with __builtin_cpu_supports: that links libgcc's constructor, which
 * issues some thirty CPUID instructions in every process that links this file before main. In a VM each one exits
 * to the hypervisor, and heidictl, which never scans text, was ~4 % slower for them (contrib/bench/README.md).
 * 0 unknown, 1 no, 2 yes; two threads that race both compute the same answer. */
static int avx2_runs(void) {
    static int known;
    int answer = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (answer == 0) {
        unsigned int eax, ebx, ecx, edx;
        int usable = 0;
        if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_OSXSAVE)) {
            unsigned int xcr0_low, xcr0_high;
            __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
            usable = (xcr0_low & 6) == 6 && __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & bit_AVX2);
        }
        answer = usable ? 2 : 1;
        __atomic_store_n(&known, answer, __ATOMIC_RELAXED);
    }
    return answer == 2;
}
#endif

long heidi_scan_text_with(const unsigned char *bytes, size_t count, const heidi_trigger_table *table, uint32_t *hits,
                          size_t capacity, size_t *hit_count, int *flags, int options) {
    *hit_count = 0;
    *flags = 0;
#if defined(__x86_64__)
    if (!(options & HEIDI_SCAN_OPTION_SCALAR) && avx2_runs()) {
        return scan_avx2(bytes, count, table, hits, capacity, hit_count, flags, options);
    }
#endif
    return scan_scalar(bytes, count, 0, table, hits, capacity, hit_count, flags, options);
}

int heidi_scan_text_is_vectorized(void) {
#if defined(__x86_64__)
    return avx2_runs();
#else
    return 0;
#endif
}

long heidi_scan_text(const unsigned char *bytes, size_t count, const heidi_trigger_table *table, uint32_t *hits,
                     size_t capacity, size_t *hit_count, int *flags) {
    return heidi_scan_text_with(bytes, count, table, hits, capacity, hit_count, flags, 0);
}

long heidi_scan_text_scalar(const unsigned char *bytes, size_t count, const heidi_trigger_table *table, uint32_t *hits,
                            size_t capacity, size_t *hit_count, int *flags) {
    return heidi_scan_text_with(bytes, count, table, hits, capacity, hit_count, flags, HEIDI_SCAN_OPTION_SCALAR);
}
