;; a 1,000,000-iteration tail-recursive loop (and a 100,000 named let) runs in constant stack
(define (count-up i n acc)
  (if (= i n) acc (count-up (+ i 1) n (+ acc i))))
(display (count-up 0 1000000 0)) (newline)
(display (let loop ((i 100000)) (if (= i 0) 'done (loop (- i 1))))) (newline)
