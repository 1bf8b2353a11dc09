;; nqueens: count the solutions of the 8-queens problem (Gabriel benchmark style).
;; Measures: list construction (cons, append), car/cdr, `and`, boolean tests.
;; expect: 92
(define (one-to n)
  (let loop ((i n) (acc '()))
    (if (= i 0)
        acc
        (loop (- i 1) (cons i acc)))))

(define (safe? row dist placed)
  (if (null? placed)
      #t
      (and (not (= (car placed) (+ row dist)))
           (not (= (car placed) (- row dist)))
           (safe? row (+ dist 1) (cdr placed)))))

;; candidates: rows still to try in this column; rejected: rows already
;; tried in this column; placed: rows of the queens placed so far.
(define (try-rows candidates rejected placed)
  (if (null? candidates)
      (if (null? rejected) 1 0)
      (+ (if (safe? (car candidates) 1 placed)
             (try-rows (append (cdr candidates) rejected)
                       '()
                       (cons (car candidates) placed))
             0)
         (try-rows (cdr candidates)
                   (cons (car candidates) rejected)
                   placed))))

(define (queens n)
  (try-rows (one-to n) '() '()))

(display (queens 8))
(newline)
