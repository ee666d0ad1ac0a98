//! Fixed-width base62 over the alphabet `0-9A-Za-z`.
//!
//! Widths are fixed so that a key's shape never depends on its random bytes:
//! a scanner's regex and the parser both rely on exact lengths.

/// The base62 alphabet, in digit order.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The digit value of one base62 character, or `None` for any other byte.
pub fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        b'a'..=b'z' => Some(c - b'a' + 36),
        _ => None,
    }
}

/// Whether every byte is a base62 character.
pub fn is_base62(s: &[u8]) -> bool {
    s.iter().all(|&c| digit(c).is_some())
}

/// The number of base62 characters needed to hold any value of `n` bytes,
/// i.e. the smallest `L` with `62^L >= 256^n`.
#[cfg(test)]
pub fn width_for_bytes(n: usize) -> usize {
    // Exact integer comparison on a little bignum, so no float rounding can
    // ever put a width off by one.
    let mut width = 0;
    let mut power = vec![1u32]; // 62^width, little-endian base 2^16 limbs
    let target_bits = n * 8;
    loop {
        if bits(&power) > target_bits {
            return width;
        }
        let mut carry = 0u32;
        for limb in power.iter_mut() {
            let v = *limb * 62 + carry;
            *limb = v & 0xFFFF;
            carry = v >> 16;
        }
        if carry > 0 {
            power.push(carry);
        }
        width += 1;
    }
}

#[cfg(test)]
// 62^L >= 256^n  <=>  62^L > 256^n - 1  <=>  bit length of 62^L > 8n
// (62^L is never exactly a power of two for L > 0).
fn bits(limbs: &[u32]) -> usize {
    let top = limbs.len() - 1;
    top * 16 + (32 - limbs[top].leading_zeros() as usize)
}

/// Encodes big-endian `bytes` as exactly `width` base62 characters, zero-padded
/// on the left. `width` must be at least `width_for_bytes(bytes.len())`.
pub fn encode_bytes(bytes: &[u8], width: usize, out: &mut String) {
    // Long division on 32-bit limbs by 62^5, which yields five digits per
    // pass: about 1/20 of the work of dividing byte by byte by 62.
    const CHUNK: u64 = 62 * 62 * 62 * 62 * 62;
    let mut limbs = [0u32; 17]; // up to 68 bytes, big-endian
    let n = bytes.len().div_ceil(4);
    let pad = n * 4 - bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        let pos = pad + i;
        limbs[pos / 4] |= u32::from(b) << (8 * (3 - pos % 4));
    }
    let mut first = limbs[..n].iter().position(|&l| l != 0).unwrap_or(n);
    let mut digits = [b'0'; 96];
    let mut pos = width;
    while first < n {
        let mut rem = 0u64;
        for limb in limbs[first..n].iter_mut() {
            let acc = (rem << 32) | u64::from(*limb);
            *limb = (acc / CHUNK) as u32;
            rem = acc % CHUNK;
        }
        for _ in 0..5 {
            if pos == 0 {
                break;
            }
            pos -= 1;
            digits[pos] = ALPHABET[(rem % 62) as usize];
            rem /= 62;
        }
        while first < n && limbs[first] == 0 {
            first += 1;
        }
    }
    out.extend(digits[..width].iter().map(|&d| d as char));
}

/// Encodes `value` as exactly `width` base62 characters, zero-padded.
pub fn encode_u64(mut value: u64, width: usize, out: &mut String) {
    let mut digits = [b'0'; 11];
    let mut pos = width;
    while value > 0 {
        pos -= 1;
        digits[pos] = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out.extend(digits[..width].iter().map(|&d| d as char));
}

/// Decodes up to 11 base62 characters into a number, or `None` if a
/// character is not base62 or the value overflows.
pub fn decode_u64(s: &[u8]) -> Option<u64> {
    s.iter().try_fold(0u64, |acc, &c| acc.checked_mul(62)?.checked_add(u64::from(digit(c)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_match_the_format() {
        assert_eq!(width_for_bytes(4), 6);
        assert_eq!(width_for_bytes(10), 14);
        assert_eq!(width_for_bytes(16), 22);
        assert_eq!(width_for_bytes(32), 43);
        assert_eq!(width_for_bytes(64), 86);
    }

    #[test]
    fn encodes_extremes() {
        let mut s = String::new();
        encode_bytes(&[0; 4], 6, &mut s);
        assert_eq!(s, "000000");
        s.clear();
        encode_bytes(&[0xFF; 4], 6, &mut s);
        assert_eq!(decode_u64(s.as_bytes()), Some(u64::from(u32::MAX)));
        s.clear();
        encode_u64(u64::from(u32::MAX), 6, &mut s);
        assert_eq!(s, "4gfFC3");
    }

    /// The obvious byte-at-a-time division, as the reference for the fast one.
    fn encode_slow(bytes: &[u8], width: usize) -> String {
        let mut num = bytes.to_vec();
        let mut digits = vec![b'0'; width];
        let mut pos = width;
        while num.iter().any(|&b| b != 0) {
            let mut rem = 0u32;
            for b in num.iter_mut() {
                let acc = (rem << 8) | u32::from(*b);
                *b = (acc / 62) as u8;
                rem = acc % 62;
            }
            pos -= 1;
            digits[pos] = ALPHABET[rem as usize];
        }
        String::from_utf8(digits).unwrap()
    }

    #[test]
    fn fast_encoding_matches_the_reference() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for n in 1..=64 {
            for fill in [0x00, 0xFF, 0x01] {
                let bytes = vec![fill; n];
                let mut s = String::new();
                encode_bytes(&bytes, width_for_bytes(n), &mut s);
                assert_eq!(s, encode_slow(&bytes, width_for_bytes(n)), "n={n} fill={fill}");
            }
            for _ in 0..20 {
                let bytes: Vec<u8> = (0..n)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect();
                let mut s = String::new();
                encode_bytes(&bytes, width_for_bytes(n), &mut s);
                assert_eq!(s, encode_slow(&bytes, width_for_bytes(n)), "n={n}");
            }
        }
    }

    #[test]
    fn max_bytes_fill_but_never_overflow_the_width() {
        for n in 1..=64 {
            let w = width_for_bytes(n);
            let mut s = String::new();
            encode_bytes(&vec![0xFF; n], w, &mut s);
            assert_eq!(s.len(), w, "n={n}");
            assert_ne!(s.as_bytes()[0], b'0', "width for {n} bytes is not minimal");
        }
    }
}
