//! A log-linear latency histogram in microseconds: 64 linear sub-buckets per power of two, so
//! every recorded value is within about 1.6% of its bucket's lower edge. Mergeable, fixed size.

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Powers of two above the first linear range: up to 2^(6+40) µs, far beyond any run.
const GROUPS: usize = 41;

#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; SUB * GROUPS],
            total: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn index(value: u64) -> usize {
    if value < SUB as u64 {
        return value as usize;
    }
    let magnitude = 63 - value.leading_zeros() - SUB_BITS + 1;
    let sub = (value >> (magnitude - 1)) as usize - SUB;
    (magnitude as usize * SUB + sub).min(SUB * GROUPS - 1)
}

/// The lowest value of bucket `i`.
fn lower_edge(i: usize) -> u64 {
    let (group, sub) = (i / SUB, i % SUB);
    if group == 0 {
        return sub as u64;
    }
    ((SUB + sub) as u64) << (group - 1)
}

impl Histogram {
    pub fn record(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
        self.sum += u128::from(micros);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0..=1): the lower edge of the bucket holding it, capped by
    /// the maximum seen (which the last rank answers exactly).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        if rank == self.total {
            return self.max;
        }
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return lower_edge(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_stay_within_the_bucket_precision() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), 10_000);
        for (q, exact) in [(0.5, 5_000.0), (0.9, 9_000.0), (0.99, 9_900.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - exact).abs() / exact < 0.02, "q{q}: {got} vs {exact}");
        }
        assert_eq!(h.quantile(0.0), 1);
    }

    #[test]
    fn merging_adds_counts_and_keeps_the_maximum() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.record(10);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.max(), 1_000_000);
        assert_eq!(a.quantile(1.0), 1_000_000);
        assert_eq!(a.quantile(0.5), 10);
    }

    #[test]
    fn every_value_lands_in_a_bucket_at_or_below_it() {
        for v in [0, 1, 63, 64, 65, 127, 128, 1_000, 123_456, 1 << 40] {
            let edge = lower_edge(index(v));
            assert!(edge <= v, "{v}: edge {edge}");
            assert!(v - edge <= v / 32 + 1, "{v}: edge {edge}");
        }
    }
}
