;; msort: merge sort of 20,000 pseudo-random integers (Park-Miller LCG written
;; in Scheme), then a position-weighted checksum of the sorted list.
;; Measures: list allocation, cond, car/cdr, tail-recursive merging,
;; modulo/remainder on integers below 2^45.
;; expect: 646582453
;; sized: (random-list 900 42) expect: 644817152
(define (random-list n seed)
  (let loop ((i 0) (x seed) (acc '()))
    (if (= i n)
        acc
        (let ((next (modulo (* x 16807) 2147483647)))
          (loop (+ i 1) next (cons (modulo next 1000000) acc))))))

(define (reverse-onto lst tail)
  (if (null? lst)
      tail
      (reverse-onto (cdr lst) (cons (car lst) tail))))

(define (merge a b acc)
  (cond ((null? a) (reverse-onto acc b))
        ((null? b) (reverse-onto acc a))
        ((< (car b) (car a)) (merge a (cdr b) (cons (car b) acc)))
        (else (merge (cdr a) b (cons (car a) acc)))))

;; Deal the list into two halves; returns (left . right).
(define (split lst left right)
  (cond ((null? lst) (cons left right))
        ((null? (cdr lst)) (cons (cons (car lst) left) right))
        (else (split (cdr (cdr lst))
                     (cons (car lst) left)
                     (cons (car (cdr lst)) right)))))

(define (msort lst)
  (cond ((null? lst) lst)
        ((null? (cdr lst)) lst)
        (else
         (let ((halves (split lst '() '())))
           (merge (msort (car halves)) (msort (cdr halves)) '())))))

(define (checksum lst)
  (let loop ((lst lst) (i 1) (acc 0))
    (if (null? lst)
        acc
        (loop (cdr lst) (+ i 1) (modulo (+ acc (* i (car lst))) 1000000007)))))

(display (checksum (msort (random-list 20000 42))))
(newline)
