//! Record payloads of a fixed size that say which record they are.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Makes payloads of `size` bytes: the record's sequence number, a space, then filler from a
/// seeded generator (so runs are repeatable and every record can be recognised when read back).
pub struct Payloads {
    size: usize,
    filler: Vec<u8>,
}

impl Payloads {
    pub fn new(size: usize, seed: u64) -> Payloads {
        let mut rng = SmallRng::seed_from_u64(seed);
        let filler = (0..size)
            .map(|_| rng.sample(rand::distributions::Alphanumeric))
            .collect();
        Payloads { size, filler }
    }

    pub fn payload(&self, seq: u64) -> Vec<u8> {
        let mut data = format!("{seq} ").into_bytes();
        data.truncate(self.size);
        let rest = self.size - data.len();
        data.extend_from_slice(&self.filler[..rest]);
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_size_and_lead_with_the_sequence() {
        let p = Payloads::new(20, 1);
        assert_eq!(p.payload(7).len(), 20);
        assert!(p.payload(7).starts_with(b"7 "));
        assert_eq!(Payloads::new(3, 1).payload(123456), b"123");
        assert_eq!(Payloads::new(0, 1).payload(5), b"");
    }
}
