//! The fields of a data row: splitting up to the last column needed, finding columns by name,
//! and numbers (plain decimals skip the general float parser, with the same result, bit for
//! bit).

use std::path::Path;

use super::error::DataError;

/// Most columns a file may need to be read up to (the rest of a row is not split).
pub(crate) const MAX_COLUMNS: usize = 32;

/// The first `need` comma-separated fields of `line`, without allocating; `None` if fewer.
pub(crate) fn split(line: &[u8], need: usize) -> Option<[&[u8]; MAX_COLUMNS]> {
    let mut out: [&[u8]; MAX_COLUMNS] = [&[]; MAX_COLUMNS];
    let mut n = 0;
    for field in line.splitn(need + 1, |b| *b == b',').take(need) {
        out[n] = field;
        n += 1;
    }
    (n == need).then_some(out)
}

pub(crate) fn check_width(path: &Path, need: usize) -> Result<(), DataError> {
    if need > MAX_COLUMNS {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            reason: format!("the needed columns must be among the first {MAX_COLUMNS}"),
        });
    }
    Ok(())
}

/// Which fields of a row a reader takes: `N` column indexes (in any order, repeats allowed),
/// turned once into a mask per column so that splitting a row tests each comma once.
#[derive(Debug, Clone)]
pub(crate) struct Columns<const N: usize> {
    /// Per column up to the last wanted: the slots (bits) that want it.
    masks: Vec<u8>,
}

impl<const N: usize> Columns<N> {
    /// The columns `wanted`; `N` is at most 8.
    pub(crate) fn new(wanted: [usize; N]) -> Self {
        const { assert!(N > 0 && N <= 8) };
        let last = wanted.iter().copied().max().unwrap_or(0);
        let mut masks = vec![0u8; last + 1];
        for (slot, &column) in wanted.iter().enumerate() {
            masks[column] |= 1 << slot;
        }
        Columns { masks }
    }

    /// How many fields a row needs.
    pub(crate) fn need(&self) -> usize {
        self.masks.len()
    }

    /// The wanted fields of `line`, splitting it only as far as the last of them; `None` when
    /// the line has fewer fields.
    pub(crate) fn pick<'a>(&self, line: &'a [u8]) -> Option<[&'a [u8]; N]> {
        let last = self.masks.len() - 1;
        let mut out = [&line[..0]; N];
        let (mut index, mut start) = (0, 0);
        let mut at_comma = |i: usize, out: &mut [&'a [u8]; N]| {
            self.store(out, index, &line[start..i]);
            index += 1;
            start = i + 1;
            index > last
        };
        // Eight bytes at a time: a byte-by-byte scan was the largest cost of reading a row.
        let mut chunks = line.chunks_exact(8);
        let mut base = 0;
        for chunk in chunks.by_ref() {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let mut commas = comma_bytes(word);
            while commas != 0 {
                if at_comma(base + (commas.trailing_zeros() / 8) as usize, &mut out) {
                    return Some(out);
                }
                commas &= commas - 1;
            }
            base += 8;
        }
        for (j, &b) in chunks.remainder().iter().enumerate() {
            if b == b',' && at_comma(base + j, &mut out) {
                return Some(out);
            }
        }
        (index == last).then(|| {
            self.store(&mut out, index, &line[start..]);
            out
        })
    }

    /// Puts field number `index` in every slot that wants it.
    fn store<'a>(&self, out: &mut [&'a [u8]; N], index: usize, field: &'a [u8]) {
        let mut mask = self.masks[index];
        while mask != 0 {
            out[mask.trailing_zeros() as usize] = field;
            mask &= mask - 1;
        }
    }
}

/// The high bit of every byte of `word` that is a comma, and no other bit.
fn comma_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ 0x2c2c_2c2c_2c2c_2c2c;
    // Exact per byte (no borrow between bytes): the high bit ends up set where x's byte is 0.
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// A plain decimal (`167.41`, `100`, `.5`) read exactly as `str::parse::<f64>` reads it,
/// without its generality: at most 15 digits make an integer below 2^53, so one division by
/// an exact power of ten rounds correctly, which is what `parse` guarantees. `None` for
/// anything else (signs, exponents, spaces, more digits), which `parse` then handles.
fn plain_decimal(field: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if field.len() > 16 {
        return None;
    }
    let (mut mantissa, mut digits, mut dot) = (0u64, 0usize, None);
    for &b in field {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            mantissa = mantissa * 10 + u64::from(d);
            digits += 1;
        } else if b == b'.' && dot.is_none() {
            dot = Some(digits);
        } else {
            return None;
        }
    }
    let decimals = digits - dot.unwrap_or(digits);
    (digits > 0 && digits <= 15).then(|| mantissa as f64 / POW10[decimals])
}

pub(crate) fn number(field: &[u8], name: &str) -> Result<f64, String> {
    if let Some(v) = plain_decimal(field) {
        return Ok(v);
    }
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            format!(
                "{name} {:?} is not a number",
                String::from_utf8_lossy(field)
            )
        })
}

pub(crate) fn column(path: &Path, header: &[String], names: &[&str]) -> Result<usize, DataError> {
    header
        .iter()
        .position(|h| names.contains(&h.as_str()))
        .ok_or_else(|| DataError::BadHeader {
            path: path.to_path_buf(),
            reason: format!(
                "no column {} in the header ({}); expected timestamp,symbol,price,size for trades \
             or timestamp|date,open,high,low,close,volume for bars",
                names.join(" or "),
                header.join(",")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_read_bit_for_bit_as_parse_does() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut texts: Vec<String> = ["0", "00.10", ".5", "5.", "167.41", "999999999999999"]
            .into_iter()
            .map(String::from)
            .collect();
        for _ in 0..50_000 {
            let digits = rng.usize(1..=15);
            let text: String = (0..digits)
                .map(|_| char::from(b'0' + rng.u8(0..10)))
                .collect();
            let dot = rng.usize(0..=digits);
            texts.push(format!("{}.{}", &text[..dot], &text[dot..]));
            texts.push(text);
        }
        for text in &texts {
            let want: f64 = text.parse().unwrap();
            let got = plain_decimal(text.as_bytes()).expect(text);
            assert_eq!(got.to_bits(), want.to_bits(), "{text}");
        }
        // Everything else is left to `parse`.
        for text in [
            "",
            ".",
            "1.2.3",
            "-1",
            "+1",
            "1e5",
            " 1",
            "1234567890123456",
            "nan",
        ] {
            assert_eq!(plain_decimal(text.as_bytes()), None, "{text}");
        }
        assert_eq!(number(b" 1.5 ", "x"), Ok(1.5));
        assert!(number(b"1e999", "x").is_err());
    }

    #[test]
    fn pick_takes_the_wanted_fields_in_any_order() {
        let line = b"a,bb,,dddd,e";
        let pick = |line: &[u8], wanted: &[usize; 3]| {
            Columns::new(*wanted)
                .pick(line)
                .map(|f| f.map(<[u8]>::to_vec))
        };
        let v = |s: &[u8]| s.to_vec();
        assert_eq!(pick(line, &[3, 0, 0]), Some([v(b"dddd"), v(b"a"), v(b"a")]));
        assert_eq!(pick(line, &[4, 2, 2]), Some([v(b"e"), v(b""), v(b"")]));
        assert_eq!(pick(line, &[5, 0, 1]), None);
        assert_eq!(pick(b"", &[0, 0, 0]), Some([v(b""), v(b""), v(b"")]));
        // Random lines of any length against a plain split, commas anywhere (in and across
        // eight-byte words), bytes next to ',' in value (`+`, `-`, 0xac) included.
        let mut rng = fastrand::Rng::with_seed(3);
        let alphabet = b",,,,+-.0123456789abc\xac\x2d";
        for _ in 0..20_000 {
            let len = rng.usize(0..60);
            let line: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let fields: Vec<&[u8]> = line.split(|&b| b == b',').collect();
            let wanted = [rng.usize(0..8), rng.usize(0..8), rng.usize(0..8)];
            let want = (wanted.iter().max().copied().unwrap_or(0) < fields.len())
                .then(|| wanted.map(|w| fields[w].to_vec()));
            assert_eq!(pick(&line, &wanted), want, "{line:?} {wanted:?}");
        }
    }
}
