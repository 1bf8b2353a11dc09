;; gcd and lcm: zero, negatives, several arguments, abs
(write (list (gcd) (gcd 12) (gcd 12 18) (gcd 12 18 8) (gcd 0 5) (gcd -12 18))) (newline)
(write (list (lcm) (lcm 4) (lcm 4 6) (lcm 4 6 10) (lcm -4 6) (lcm 0 5))) (newline)
(write (list (abs -5) (abs 5) (abs 0) (abs -5/3) (abs -2.5))) (newline)
(define (euclid a b) (if (= b 0) a (euclid b (remainder a b))))
(write (map (lambda (p) (euclid (car p) (cdr p))) '((1071 . 462) (270 . 192) (17 . 5)))) (newline)
(write (gcd (expt 2 100) (expt 6 50))) (newline)
