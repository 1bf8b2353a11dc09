;; tour.scm -- a few things flowscheme's Scheme can do.
(define (fact n) (if (= n 0) 1 (* n (fact (- n 1)))))
(display "30! = ") (display (fact 30)) (newline)

(define (count-up n) (let loop ((i 0) (acc '())) (if (= i n) (reverse acc) (loop (+ i 1) (cons i acc)))))
(display "squares: ") (write (map (lambda (x) (* x x)) (count-up 8))) (newline)

;; deep non-tail recursion is bounded by memory, not Python's stack
(define (depth n) (if (= n 0) 0 (+ 1 (depth (- n 1)))))
(display "recursion 100000 deep: ") (display (depth 100000)) (newline)

;; first-class, re-entrant continuations: a generator of 3 values
(define (resume-three)
  (let ((k #f) (seen '()))
    (let ((v (call/cc (lambda (c) (set! k c) 0))))
      (set! seen (cons v seen))
      (if (< v 3) (k (+ v 1)) (reverse seen)))))
(display "call/cc re-entry: ") (write (resume-three)) (newline)
