;; + - * / with zero, one and many arguments
(write (list (+) (*) (+ 5) (* 5) (- 5) (/ 5) (/ 1/5))) (newline)
(write (list (+ 1 2 3 4) (* 1 2 3 4) (- 10 1 2 3) (/ 120 2 3 4))) (newline)
(write (list (- 0 7) (- -7) (* -1 -1) (+ -5 5))) (newline)
(write (list (/ 1 2) (/ 4 2) (/ 1 -3) (/ 0 5))) (newline)
(write (let loop ((i 1) (acc 0)) (if (> i 100) acc (loop (+ i 1) (+ acc i))))) (newline)
(write (list (exact? (/ 4 2)) (integer? (/ 4 2)))) (newline)
