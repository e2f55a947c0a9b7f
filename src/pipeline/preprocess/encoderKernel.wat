;; The encoder input of one slice (resize.ts's Pillow bilinear resize, then encoder.ts's byte histogram and
;; three-channel table write), the same integer and bit-copy operations as the JS functions, without their
;; per-element bounds checks; the vertical pass runs 16 pixels at a time. Every argument is a byte offset
;; into the exported memory (laid out by encoderKernel.ts) or a count. Taps are Pillow's 22-bit fixed
;; point: per output index a first input index, a tap count and `ksize` int32 weights.
(module
  (memory (export "memory") 1)

  ;; Horizontal pass: dst[y*outW + x] = clip8((2^21 + sum_t src[y*w + start[x] + t] * wt[x*ksize + t]) >> 22)
;; for the outputs x0 <= x < outW.
  (func (export "horizontal")
    (param $src i32) (param $h i32) (param $w i32) (param $outW i32)
    (param $start i32) (param $count i32) (param $wt i32) (param $ksize i32) (param $dst i32) (param $x0 i32)
    (local $y i32) (local $x i32) (local $t i32) (local $n i32) (local $row i32) (local $p i32) (local $q i32)
    (local $acc i32) (local $kbytes i32)
    (local.set $kbytes (i32.shl (local.get $ksize) (i32.const 2)))
    (local.set $y (i32.const 0))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $h)))
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $w))))
        (local.set $x (local.get $x0))
        (block $colsDone
          (loop $cols
            (br_if $colsDone (i32.ge_u (local.get $x) (local.get $outW)))
            (local.set $p (i32.add (local.get $row) (i32.load (i32.add (local.get $start) (i32.shl (local.get $x) (i32.const 2))))))
            (local.set $n (i32.load (i32.add (local.get $count) (i32.shl (local.get $x) (i32.const 2)))))
            (local.set $q (i32.add (local.get $wt) (i32.mul (local.get $x) (local.get $kbytes))))
            (if (i32.eq (local.get $ksize) (i32.const 3))
              (then
                ;; Upscaling: three taps, absent ones weight 0 (bilinearTaps zero-fills the slots), so the sum is
                ;; unchanged; a zero-weight read past the row end stays inside the memory (the next region follows).
                (local.set $acc (i32.add (i32.const 2097152)
                  (i32.add
                    (i32.add
                      (i32.mul (i32.load8_u (local.get $p)) (i32.load (local.get $q)))
                      (i32.mul (i32.load8_u offset=1 (local.get $p)) (i32.load offset=4 (local.get $q))))
                    (i32.mul (i32.load8_u offset=2 (local.get $p)) (i32.load offset=8 (local.get $q)))))))
              (else
                (local.set $acc (i32.const 2097152))
                (local.set $t (i32.const 0))
                (block $tapsDone
                  (loop $taps
                    (br_if $tapsDone (i32.ge_u (local.get $t) (local.get $n)))
                    (local.set $acc (i32.add (local.get $acc)
                      (i32.mul (i32.load8_u (i32.add (local.get $p) (local.get $t)))
                               (i32.load (i32.add (local.get $q) (i32.shl (local.get $t) (i32.const 2)))))))
                    (local.set $t (i32.add (local.get $t) (i32.const 1)))
                    (br $taps)))))
            (local.set $acc (i32.shr_s (local.get $acc) (i32.const 22)))
            ;; clip8: clamp to 0..255
            (local.set $acc (select (i32.const 0) (local.get $acc) (i32.lt_s (local.get $acc) (i32.const 0))))
            (local.set $acc (select (i32.const 255) (local.get $acc) (i32.gt_s (local.get $acc) (i32.const 255))))
            (i32.store8 (i32.add (local.get $dst) (i32.add (i32.mul (local.get $y) (local.get $outW)) (local.get $x))) (local.get $acc))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $cols)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows))))

  ;; Horizontal pass for three-tap filters (upscaling), 16 outputs per step: the taps of outputs 16b..16b+15
;; lie within the 16 bytes from row + first[b] (encoderKernel.ts checks this), so one load and one
;; i8x16.swizzle per tap gather them; `masks` holds 3 x 16 byte indices per block, `wt` the weights tap-major
;; (3 x outW int32, absent taps 0). The last outW % 16 outputs are the caller's (horizontal, from index x0).
  (func (export "horizontal3")
    (param $src i32) (param $h i32) (param $w i32) (param $outW i32)
    (param $first i32) (param $masks i32) (param $wt i32) (param $dst i32)
    (local $y i32) (local $b i32) (local $nb i32) (local $row i32) (local $o i32) (local $wq i32) (local $mq i32) (local $t i32)
    (local $v v128) (local $g v128) (local $lo v128) (local $hi v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $nb (i32.shr_u (local.get $outW) (i32.const 4)))
    (local.set $y (i32.const 0))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $h)))
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $w))))
        (local.set $o (i32.add (local.get $dst) (i32.mul (local.get $y) (local.get $outW))))
        (local.set $b (i32.const 0))
        (block $blocksDone
          (loop $blocks
            (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $nb)))
            (local.set $v (v128.load align=1 (i32.add (local.get $row) (i32.load (i32.add (local.get $first) (i32.shl (local.get $b) (i32.const 2)))))))
            (local.set $a0 (i32x4.splat (i32.const 2097152)))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $mq (i32.add (local.get $masks) (i32.mul (local.get $b) (i32.const 48))))
            (local.set $wq (i32.add (local.get $wt) (i32.shl (local.get $b) (i32.const 6))))
            (local.set $t (i32.const 0))
            (block $tapsDone
              (loop $taps
                (br_if $tapsDone (i32.ge_u (local.get $t) (i32.const 3)))
                (local.set $g (i8x16.swizzle (local.get $v) (v128.load (local.get $mq))))
                (local.set $lo (i16x8.extend_low_i8x16_u (local.get $g)))
                (local.set $hi (i16x8.extend_high_i8x16_u (local.get $g)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (v128.load (local.get $wq)))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (v128.load offset=16 (local.get $wq)))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (v128.load offset=32 (local.get $wq)))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (v128.load offset=48 (local.get $wq)))))
                (local.set $mq (i32.add (local.get $mq) (i32.const 16)))
                (local.set $wq (i32.add (local.get $wq) (i32.shl (local.get $outW) (i32.const 2))))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $taps)))
            (v128.store align=1 (i32.add (local.get $o) (i32.shl (local.get $b) (i32.const 4)))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (i32x4.shr_s (local.get $a1) (i32.const 22)))
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (i32x4.shr_s (local.get $a3) (i32.const 22)))))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (br $blocks)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows))))

;; Vertical pass over rows of width w: dst[y*w + x] = clip8((2^21 + sum_t src[(start[y] + t)*w + x] * wt[y*ksize + t]) >> 22),
  ;; 16 pixels per step (u8 widened to four i32x4 accumulators, narrowed back with saturation, which is
  ;; clip8), the last w % 16 pixels one at a time.
  (func (export "vertical")
    (param $src i32) (param $w i32) (param $outH i32)
    (param $start i32) (param $count i32) (param $wt i32) (param $ksize i32) (param $dst i32)
    (local $y i32) (local $x i32) (local $t i32) (local $n i32) (local $base i32) (local $q i32) (local $o i32)
    (local $w16 i32) (local $acc i32) (local $weight i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $v v128) (local $lo v128) (local $hi v128) (local $vw v128)
    (local.set $w16 (i32.and (local.get $w) (i32.const -16)))
    (local.set $y (i32.const 0))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $outH)))
        (local.set $base (i32.add (local.get $src) (i32.mul (i32.load (i32.add (local.get $start) (i32.shl (local.get $y) (i32.const 2)))) (local.get $w))))
        (local.set $n (i32.load (i32.add (local.get $count) (i32.shl (local.get $y) (i32.const 2)))))
        (local.set $q (i32.add (local.get $wt) (i32.shl (i32.mul (local.get $y) (local.get $ksize)) (i32.const 2))))
        (local.set $o (i32.add (local.get $dst) (i32.mul (local.get $y) (local.get $w))))
        (local.set $x (i32.const 0))
        (block $vecDone
          (loop $vec
            (br_if $vecDone (i32.ge_u (local.get $x) (local.get $w16)))
            (local.set $a0 (i32x4.splat (i32.const 2097152)))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $t (i32.const 0))
            (block $tapsDone
              (loop $taps
                (br_if $tapsDone (i32.ge_u (local.get $t) (local.get $n)))
                (local.set $vw (i32x4.splat (i32.load (i32.add (local.get $q) (i32.shl (local.get $t) (i32.const 2))))))
                (local.set $v (v128.load (i32.add (i32.add (local.get $base) (i32.mul (local.get $t) (local.get $w))) (local.get $x))))
                (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
                (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $vw))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $vw))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $vw))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $vw))))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $taps)))
            (v128.store (i32.add (local.get $o) (local.get $x))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (i32x4.shr_s (local.get $a1) (i32.const 22)))
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (i32x4.shr_s (local.get $a3) (i32.const 22)))))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (br $vec)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $x) (local.get $w)))
            (local.set $acc (i32.const 2097152))
            (local.set $t (i32.const 0))
            (block $tapsDone2
              (loop $taps2
                (br_if $tapsDone2 (i32.ge_u (local.get $t) (local.get $n)))
                (local.set $weight (i32.load (i32.add (local.get $q) (i32.shl (local.get $t) (i32.const 2)))))
                (local.set $acc (i32.add (local.get $acc)
                  (i32.mul (i32.load8_u (i32.add (i32.add (local.get $base) (i32.mul (local.get $t) (local.get $w))) (local.get $x)))
                           (local.get $weight))))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $taps2)))
            (local.set $acc (i32.shr_s (local.get $acc) (i32.const 22)))
            (local.set $acc (select (i32.const 0) (local.get $acc) (i32.lt_s (local.get $acc) (i32.const 0))))
            (local.set $acc (select (i32.const 255) (local.get $acc) (i32.gt_s (local.get $acc) (i32.const 255))))
            (i32.store8 (i32.add (local.get $o) (local.get $x)) (local.get $acc))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $tail)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows))))

  ;; Byte histogram of img[0..n) into 4 interleaved partial tables of 256 uint32 at $hist (zeroed here;
  ;; consecutive equal bytes would otherwise stall on one counter). The caller adds the four.
  (func (export "histogram") (param $img i32) (param $n i32) (param $hist i32)
    (local $p i32) (local $m i32) (local $a i32)
    (memory.fill (local.get $hist) (i32.const 0) (i32.const 4096))
    (local.set $m (i32.and (local.get $n) (i32.const -4)))
    (local.set $p (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $m)))
        (local.set $a (i32.add (local.get $hist) (i32.shl (i32.load8_u (i32.add (local.get $img) (local.get $p))) (i32.const 2))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        (local.set $a (i32.add (local.get $hist) (i32.add (i32.const 1024) (i32.shl (i32.load8_u offset=1 (i32.add (local.get $img) (local.get $p))) (i32.const 2)))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        (local.set $a (i32.add (local.get $hist) (i32.add (i32.const 2048) (i32.shl (i32.load8_u offset=2 (i32.add (local.get $img) (local.get $p))) (i32.const 2)))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        (local.set $a (i32.add (local.get $hist) (i32.add (i32.const 3072) (i32.shl (i32.load8_u offset=3 (i32.add (local.get $img) (local.get $p))) (i32.const 2)))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $next)))
    (block $done2
      (loop $next2
        (br_if $done2 (i32.ge_u (local.get $p) (local.get $n)))
        (local.set $a (i32.add (local.get $hist) (i32.shl (i32.load8_u (i32.add (local.get $img) (local.get $p))) (i32.const 2))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next2))))

  ;; volume.ts's sliceToUint8 on one slice copied to $vol (f32, I fastest: vol[r + c*ni]): min and max (a comparison
;; with NaN is false, as in JS), then dst[r*nj + c] = trunc(f32(f32(f32(v - min) / denom) * 255)) with
;; denom = f32(f32(max - min) + 1e-5), every operation in float32 as there; the values lie in 0..254.
  (func (export "toUint8") (param $vol i32) (param $ni i32) (param $nj i32) (param $dst i32)
    (local $p i32) (local $end i32) (local $v f32) (local $min f32) (local $max f32) (local $denom f32)
    (local $r i32) (local $c i32) (local $col i32) (local $o i32)
    (local.set $min (f32.const inf))
    (local.set $max (f32.const -inf))
    (local.set $p (local.get $vol))
    (local.set $end (i32.add (local.get $vol) (i32.shl (i32.mul (local.get $ni) (local.get $nj)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $v (f32.load (local.get $p)))
        (if (f32.lt (local.get $v) (local.get $min)) (then (local.set $min (local.get $v))))
        (if (f32.gt (local.get $v) (local.get $max)) (then (local.set $max (local.get $v))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $next)))
    (local.set $denom (f32.add (f32.sub (local.get $max) (local.get $min)) (f32.const 0x1.4f8b58p-17)))
    (local.set $c (i32.const 0))
    (block $colsDone
      (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $c) (local.get $nj)))
        (local.set $col (i32.add (local.get $vol) (i32.shl (i32.mul (local.get $c) (local.get $ni)) (i32.const 2))))
        (local.set $o (i32.add (local.get $dst) (local.get $c)))
        (local.set $r (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $ni)))
            (i32.store8 (local.get $o)
              (i32.trunc_sat_f32_u
                (f32.mul
                  (f32.div (f32.sub (f32.load (i32.add (local.get $col) (i32.shl (local.get $r) (i32.const 2)))) (local.get $min)) (local.get $denom))
                  (f32.const 255))))
            (local.set $o (i32.add (local.get $o) (local.get $nj)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rows)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cols))))

;; The three channels: out[c*n + p] = lut[c*256 + img[p]] for c = 0..2, the float32 values copied as bits,
;; four pixels per step (one 32-bit read of their bytes), the last n % 4 one at a time.
  (func (export "channels") (param $img i32) (param $n i32) (param $lut i32) (param $out i32)
    (local $p i32) (local $m i32) (local $x i32) (local $v i32) (local $o i32) (local $o1 i32) (local $o2 i32) (local $nb i32)
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $m (i32.and (local.get $n) (i32.const -4)))
    (local.set $p (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $m)))
        (local.set $x (i32.load align=1 (i32.add (local.get $img) (local.get $p))))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $p) (i32.const 2))))
        (local.set $o1 (i32.add (local.get $o) (local.get $nb)))
        (local.set $o2 (i32.add (local.get $o1) (local.get $nb)))
        (local.set $v (i32.add (local.get $lut) (i32.shl (i32.and (local.get $x) (i32.const 255)) (i32.const 2))))
        (i32.store (local.get $o) (i32.load (local.get $v)))
        (i32.store (local.get $o1) (i32.load offset=1024 (local.get $v)))
        (i32.store (local.get $o2) (i32.load offset=2048 (local.get $v)))
        (local.set $v (i32.add (local.get $lut) (i32.and (i32.shr_u (local.get $x) (i32.const 6)) (i32.const 1020))))
        (i32.store offset=4 (local.get $o) (i32.load (local.get $v)))
        (i32.store offset=4 (local.get $o1) (i32.load offset=1024 (local.get $v)))
        (i32.store offset=4 (local.get $o2) (i32.load offset=2048 (local.get $v)))
        (local.set $v (i32.add (local.get $lut) (i32.and (i32.shr_u (local.get $x) (i32.const 14)) (i32.const 1020))))
        (i32.store offset=8 (local.get $o) (i32.load (local.get $v)))
        (i32.store offset=8 (local.get $o1) (i32.load offset=1024 (local.get $v)))
        (i32.store offset=8 (local.get $o2) (i32.load offset=2048 (local.get $v)))
        (local.set $v (i32.add (local.get $lut) (i32.and (i32.shr_u (local.get $x) (i32.const 22)) (i32.const 1020))))
        (i32.store offset=12 (local.get $o) (i32.load (local.get $v)))
        (i32.store offset=12 (local.get $o1) (i32.load offset=1024 (local.get $v)))
        (i32.store offset=12 (local.get $o2) (i32.load offset=2048 (local.get $v)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $next)))
    (block $done2
      (loop $next2
        (br_if $done2 (i32.ge_u (local.get $p) (local.get $n)))
        (local.set $v (i32.add (local.get $lut) (i32.shl (i32.load8_u (i32.add (local.get $img) (local.get $p))) (i32.const 2))))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $p) (i32.const 2))))
        (i32.store (local.get $o) (i32.load (local.get $v)))
        (i32.store (i32.add (local.get $o) (local.get $nb)) (i32.load offset=1024 (local.get $v)))
        (i32.store (i32.add (local.get $o) (i32.shl (local.get $nb) (i32.const 1))) (i32.load offset=2048 (local.get $v)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next2))))
)
