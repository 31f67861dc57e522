;; One LZ4 block decoder in WebAssembly (lz4-wasm.ts loads it; scripts/build-lz4-wasm.mjs turns this text into
;; lz4-block-wasm.ts). Written for pgstow from the LZ4 block format description; no code copied.
;;
;; decode(s, end, o, limit, base) decodes the block at [s, end) to o and returns the new end of the output, or
;; when the block is corrupt -1 (input ends inside a sequence, literals past the input's end or the output's
;; limit) or -2 (a match at offset 0, before `base` or past the output's limit).
;; stripes(p, end) runs xxHash32's four lanes (globals v1..v4, set and read by the caller) over the whole 16-byte
;; stripes of [p, end): the content checksum of the block just decoded, without copying it out of this memory.
;;
;; Matches may reach back to `base` (linked blocks: the previous block's last 64 KiB sit in front of o).
;; Copies run 8 or 16 bytes at a time and may write up to 32 bytes past `limit` and read up to 16 bytes past
;; `end`: the caller leaves that much room (memory after `limit` that holds nothing of value, after `end` that
;; exists).
(module
  (memory (export "memory") 1)
  (global $v1 (export "v1") (mut i32) (i32.const 0))
  (global $v2 (export "v2") (mut i32) (i32.const 0))
  (global $v3 (export "v3") (mut i32) (i32.const 0))
  (global $v4 (export "v4") (mut i32) (i32.const 0))
  (func (export "stripes") (param $p i32) (param $end i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local.set $a (global.get $v1))
    (local.set $b (global.get $v2))
    (local.set $c (global.get $v3))
    (local.set $d (global.get $v4))
    (block $done
      (loop $stripe
        (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $a (i32.mul (i32.rotl (i32.add (local.get $a) (i32.mul (i32.load (local.get $p))
          (i32.const 0x85ebca77))) (i32.const 13)) (i32.const 0x9e3779b1)))
        (local.set $b (i32.mul (i32.rotl (i32.add (local.get $b) (i32.mul (i32.load offset=4 (local.get $p))
          (i32.const 0x85ebca77))) (i32.const 13)) (i32.const 0x9e3779b1)))
        (local.set $c (i32.mul (i32.rotl (i32.add (local.get $c) (i32.mul (i32.load offset=8 (local.get $p))
          (i32.const 0x85ebca77))) (i32.const 13)) (i32.const 0x9e3779b1)))
        (local.set $d (i32.mul (i32.rotl (i32.add (local.get $d) (i32.mul (i32.load offset=12 (local.get $p))
          (i32.const 0x85ebca77))) (i32.const 13)) (i32.const 0x9e3779b1)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $stripe)))
    (global.set $v1 (local.get $a))
    (global.set $v2 (local.get $b))
    (global.set $v3 (local.get $c))
    (global.set $v4 (local.get $d)))
  (func (export "decode") (param $s i32) (param $end i32) (param $o i32) (param $limit i32) (param $base i32)
    (result i32)
    (local $token i32) (local $lit i32) (local $len i32) (local $b i32) (local $off i32) (local $from i32)
    (local $stop i32)
    (block $badMatch
    (block $bad
      (loop $sequence
        (br_if $bad (i32.ge_u (local.get $s) (local.get $end)))
        (local.set $token (i32.load8_u (local.get $s)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        ;; literals: their length, then the bytes
        (local.set $lit (i32.shr_u (local.get $token) (i32.const 4)))
        (if (i32.eq (local.get $lit) (i32.const 15))
          (then
            (loop $more
              (br_if $bad (i32.ge_u (local.get $s) (local.get $end)))
              (local.set $b (i32.load8_u (local.get $s)))
              (local.set $s (i32.add (local.get $s) (i32.const 1)))
              (local.set $lit (i32.add (local.get $lit) (local.get $b)))
              (br_if $more (i32.eq (local.get $b) (i32.const 255))))))
        (br_if $bad (i32.gt_u (local.get $lit) (i32.sub (local.get $end) (local.get $s))))
        (br_if $bad (i32.gt_u (local.get $lit) (i32.sub (local.get $limit) (local.get $o))))
        (if (i32.le_u (local.get $lit) (i32.const 16))
          (then
            (i64.store (local.get $o) (i64.load (local.get $s)))
            (i64.store offset=8 (local.get $o) (i64.load offset=8 (local.get $s))))
          (else (memory.copy (local.get $o) (local.get $s) (local.get $lit))))
        (local.set $o (i32.add (local.get $o) (local.get $lit)))
        (local.set $s (i32.add (local.get $s) (local.get $lit)))
        ;; the last sequence has literals only
        (if (i32.eq (local.get $s) (local.get $end)) (then (return (local.get $o))))
        ;; match: offset, length, then the copy
        (br_if $bad (i32.gt_u (i32.add (local.get $s) (i32.const 2)) (local.get $end)))
        (local.set $off (i32.load16_u (local.get $s)))
        (local.set $s (i32.add (local.get $s) (i32.const 2)))
        (local.set $len (i32.and (local.get $token) (i32.const 15)))
        (if (i32.eq (local.get $len) (i32.const 15))
          (then
            (loop $more
              (br_if $bad (i32.ge_u (local.get $s) (local.get $end)))
              (local.set $b (i32.load8_u (local.get $s)))
              (local.set $s (i32.add (local.get $s) (i32.const 1)))
              (local.set $len (i32.add (local.get $len) (local.get $b)))
              (br_if $more (i32.eq (local.get $b) (i32.const 255))))))
        (local.set $len (i32.add (local.get $len) (i32.const 4)))
        (br_if $badMatch (i32.eqz (local.get $off)))
        (br_if $badMatch (i32.gt_u (local.get $off) (i32.sub (local.get $o) (local.get $base))))
        (br_if $badMatch (i32.gt_u (local.get $len) (i32.sub (local.get $limit) (local.get $o))))
        (local.set $from (i32.sub (local.get $o) (local.get $off)))
        (local.set $stop (i32.add (local.get $o) (local.get $len)))
        (if (i32.lt_u (local.get $off) (i32.const 8))
          (then
            (if (i32.eq (local.get $off) (i32.const 1))
              (then
                (memory.fill (local.get $o) (i32.load8_u (local.get $from)) (local.get $len))
                (local.set $o (local.get $stop))
                (br $sequence)))
            ;; a short period: byte by byte for 8 bytes, then 8 bytes at a time from a whole number of periods
            ;; back (8 to 14 bytes: all of them written already)
            (local.set $b (select (local.get $stop) (i32.add (local.get $o) (i32.const 8))
                                  (i32.lt_u (local.get $len) (i32.const 8))))
            (loop $bytes
              (i32.store8 (local.get $o) (i32.load8_u (local.get $from)))
              (local.set $o (i32.add (local.get $o) (i32.const 1)))
              (local.set $from (i32.add (local.get $from) (i32.const 1)))
              (br_if $bytes (i32.lt_u (local.get $o) (local.get $b))))
            (local.set $off (i32.mul (local.get $off)
                                     (i32.div_u (i32.add (local.get $off) (i32.const 7)) (local.get $off))))
            (local.set $from (i32.sub (local.get $o) (local.get $off)))))
        (if (i32.and (i32.ge_u (local.get $off) (local.get $len)) (i32.gt_u (local.get $len) (i32.const 64)))
          (then
            (memory.copy (local.get $o) (local.get $from) (local.get $len))
            (local.set $o (local.get $stop))
            (br $sequence)))
        (loop $words
          (if (i32.lt_u (local.get $o) (local.get $stop))
            (then
              (i64.store (local.get $o) (i64.load (local.get $from)))
              (local.set $o (i32.add (local.get $o) (i32.const 8)))
              (local.set $from (i32.add (local.get $from) (i32.const 8)))
              (br $words))))
        (local.set $o (local.get $stop))
        (br $sequence)))
    (return (i32.const -1)))
    (i32.const -2)))
