;; numeric comparison with several arguments and mixed exactness
(write (list (= 1 1 1) (= 1 1 2) (< 1 2 3) (< 1 3 2) (<= 1 1 2) (>= 3 3 1) (> 3 2 1))) (newline)
(write (list (= 1 1.0) (< 1/3 0.34) (> 1/3 0.33) (= 1/2 0.5) (< -1 0 1/2 1.0))) (newline)
(write (list (zero? 0) (zero? 0.0) (zero? 1/2) (positive? 1/2) (negative? -0.5) (positive? 0))) (newline)
(write (list (odd? 3) (even? 0) (odd? -3) (even? -4) (even? (expt 2 80)))) (newline)
(write (list (< (expt 2 63) (expt 2 64)) (= (expt 2 64) 18446744073709551616))) (newline)
