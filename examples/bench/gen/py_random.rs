//! CPython's `random.Random`, as far as `gen_events.py` uses it: the MT19937 generator seeded
//! from an integer (`init_by_array` over its 32-bit words), `random()`, `getrandbits(k)`, and the
//! methods built on `_randbelow` (`randrange`, `randint`, `choice`, `shuffle`), plus
//! `expovariate`. Each follows `Lib/random.py` and `Modules/_randommodule.c` of CPython 3.11
//! draw for draw, so the same seed gives the same stream of numbers.

const STATE_WORDS: usize = 624;
const SHIFT_WORDS: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// A `random.Random(seed)` of CPython.
pub struct PyRandom {
    state: [u32; STATE_WORDS],
    next_word: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for a non-negative integer seed: `init_by_array` over the seed's
    /// 32-bit words, least significant first (one word `0` for seed 0).
    pub fn new(seed: u64) -> PyRandom {
        let low_word = seed as u32;
        let high_word = (seed >> 32) as u32;
        let key: Vec<u32> = if high_word == 0 { vec![low_word] } else { vec![low_word, high_word] };
        let mut rng = PyRandom { state: [0; STATE_WORDS], next_word: STATE_WORDS };
        rng.init_by_array(&key);
        rng
    }

    fn init_genrand(&mut self, seed: u32) {
        self.state[0] = seed;
        for i in 1..STATE_WORDS {
            let prev = self.state[i - 1];
            self.state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        self.next_word = STATE_WORDS;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let mut i = 1usize;
        let mut j = 0usize;
        for _ in 0..STATE_WORDS.max(key.len()) {
            let prev = self.state[i - 1];
            self.state[i] = (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= STATE_WORDS {
                self.state[0] = self.state[STATE_WORDS - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..STATE_WORDS - 1 {
            let prev = self.state[i - 1];
            self.state[i] = (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= STATE_WORDS {
                self.state[0] = self.state[STATE_WORDS - 1];
                i = 1;
            }
        }
        self.state[0] = 0x8000_0000;
    }

    fn twist(&mut self) {
        for k in 0..STATE_WORDS {
            let y = (self.state[k] & UPPER_MASK) | (self.state[(k + 1) % STATE_WORDS] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.state[k] = self.state[(k + SHIFT_WORDS) % STATE_WORDS] ^ (y >> 1) ^ mag;
        }
        self.next_word = 0;
    }

    /// `genrand_uint32`: the next tempered 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.next_word >= STATE_WORDS {
            self.twist();
        }
        let mut y = self.state[self.next_word];
        self.next_word += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random()`: 53 random bits as a float in [0, 1).
    pub fn random(&mut self) -> f64 {
        let high = f64::from(self.next_u32() >> 5);
        let low = f64::from(self.next_u32() >> 6);
        (high * 67_108_864.0 + low) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `getrandbits(k)` for `k <= 128`: 32-bit words from the least significant up; the last
    /// word keeps its top `k mod 32` bits.
    pub fn getrandbits(&mut self, bits: u32) -> u128 {
        assert!(bits <= 128, "getrandbits({bits}) is beyond this port");
        let mut value = 0u128;
        let mut left = bits;
        let mut shift = 0u32;
        while left > 0 {
            let mut word = self.next_u32();
            if left < 32 {
                word >>= 32 - left;
            }
            value |= u128::from(word) << shift;
            shift += 32;
            left = left.saturating_sub(32);
        }
        value
    }

    /// `_randbelow(n)` for `n > 0`: `getrandbits(n.bit_length())` until it is below `n`.
    pub fn randbelow(&mut self, n: u64) -> u64 {
        assert!(n > 0, "randbelow(0)");
        let bits = u64::BITS - n.leading_zeros();
        loop {
            let r = self.getrandbits(bits) as u64;
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(stop)`, a valid index into a sequence of `len` items.
    pub fn index(&mut self, len: usize) -> usize {
        self.randbelow(len as u64) as usize
    }

    /// `randrange(start, stop, step)` for `step > 0` and a non-empty range.
    pub fn randrange_step(&mut self, start: i64, stop: i64, step: i64) -> i64 {
        assert!(step > 0 && stop > start, "empty range for randrange({start}, {stop}, {step})");
        let count = (stop - start + step - 1) / step;
        start + step * self.randbelow(count as u64) as i64
    }

    /// `randint(a, b)` = `randrange(a, b + 1)`, for `a <= b`.
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        assert!(low <= high, "empty range for randint({low}, {high})");
        low + self.randbelow((high - low + 1) as u64) as i64
    }

    /// `choice(seq)` for a non-empty `seq`.
    pub fn choice<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// `shuffle(x)`: Fisher-Yates from the end, `j = _randbelow(i + 1)`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }

    /// `expovariate(lambd)` = `-log(1.0 - random()) / lambd`.
    pub fn expovariate(&mut self, lambd: f64) -> f64 {
        -(1.0 - self.random()).ln() / lambd
    }
}
