//! The benchmark data of `docs/benchmarks.md`, byte for byte the same as the Flink and
//! timely peers generate: splitmix64 seeded with 42, a 1,024-word vocabulary, 4,096 sentences
//! of 10 words, and 100-byte records.

/// Words in the vocabulary.
pub const VOCABULARY: usize = 1024;
/// Sentences generated.
pub const SENTENCES: usize = 4096;
/// Words per sentence.
pub const WORDS_PER_SENTENCE: usize = 10;
/// Bytes per chain record.
pub const RECORD_BYTES: usize = 100;

/// splitmix64, advancing `state`.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 4,096 benchmark sentences.
pub fn sentences() -> Vec<String> {
    let mut state = 42u64;
    let vocabulary: Vec<String> = (0..VOCABULARY)
        .map(|_| {
            let len = 3 + (splitmix64(&mut state) % 8) as usize;
            (0..len)
                .map(|_| char::from(b'a' + (splitmix64(&mut state) % 26) as u8))
                .collect()
        })
        .collect();
    (0..SENTENCES)
        .map(|_| {
            (0..WORDS_PER_SENTENCE)
                .map(|_| vocabulary[(splitmix64(&mut state) % VOCABULARY as u64) as usize].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// A 100-byte record: `'a' + i % 26`, with a big-endian timestamp in bytes 0..8 and a
/// big-endian sequence number in bytes 8..16.
pub fn record(timestamp: u64, sequence: u64) -> Vec<u8> {
    let mut r: Vec<u8> = (0..RECORD_BYTES).map(|i| b'a' + (i % 26) as u8).collect();
    stamp_record(&mut r, timestamp, sequence);
    r
}

/// Writes a record's timestamp and sequence number (a copy of a template gets its own).
pub fn stamp_record(record: &mut [u8], timestamp: u64, sequence: u64) {
    record[0..8].copy_from_slice(&timestamp.to_be_bytes());
    record[8..16].copy_from_slice(&sequence.to_be_bytes());
}

/// The timestamp stored in a record.
pub fn record_timestamp(record: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(record.get(0..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_matches_the_peers_generator() {
        let s = sentences();
        assert_eq!(s.len(), SENTENCES);
        assert!(s.iter().all(|x| x.split(' ').count() == WORDS_PER_SENTENCE));
        // The first value of splitmix64 seeded with 42 (also the peers' first draw).
        let mut st = 42;
        assert_eq!(splitmix64(&mut st), 0xBDD7_3226_2FEB_6E95);
        let r = record(7, 9);
        assert_eq!(r.len(), 100);
        assert_eq!(record_timestamp(&r), Some(7));
        assert_eq!(r[16], b'a' + 16);
    }
}
