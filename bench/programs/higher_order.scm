;; higher_order: map / filter / fold written here (own names, tail-recursive)
;; over a 10,000-element list, with closures and composition, repeated 10 times.
;; Measures: closure creation and calls through procedure values.
;; expect: 333456669
;; sized: (range-list 600) expect: 1206600
(define (range-list n)
  (let loop ((i (- n 1)) (acc '()))
    (if (< i 0)
        acc
        (loop (- i 1) (cons i acc)))))

(define (rev lst)
  (let loop ((lst lst) (acc '()))
    (if (null? lst)
        acc
        (loop (cdr lst) (cons (car lst) acc)))))

(define (map-list f lst)
  (let loop ((lst lst) (acc '()))
    (if (null? lst)
        (rev acc)
        (loop (cdr lst) (cons (f (car lst)) acc)))))

(define (keep pred lst)
  (let loop ((lst lst) (acc '()))
    (cond ((null? lst) (rev acc))
          ((pred (car lst)) (loop (cdr lst) (cons (car lst) acc)))
          (else (loop (cdr lst) acc)))))

(define (fold-left f init lst)
  (if (null? lst)
      init
      (fold-left f (f init (car lst)) (cdr lst))))

(define (compose f g)
  (lambda (x) (f (g x))))

(define (one-round lst k)
  (let ((shift (lambda (x) (+ x k)))
        (twice (lambda (x) (* 2 x))))
    (fold-left (lambda (acc x) (+ acc x))
               0
               (keep (lambda (x) (= (remainder x 3) 0))
                     (map-list (compose shift twice) lst)))))

(define (run lst rounds)
  (let loop ((k 0) (acc 0))
    (if (= k rounds)
        acc
        (loop (+ k 1) (+ acc (one-round lst k))))))

(display (run (range-list 10000) 10))
(newline)
