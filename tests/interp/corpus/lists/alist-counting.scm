;; building frequency tables with association lists, sorted output
(define (tally items)
  (let loop ((items items) (table '()))
    (if (null? items) table
        (let ((entry (assoc (car items) table)))
          (if entry
              (begin (set-cdr! entry (+ (cdr entry) 1)) (loop (cdr items) table))
              (loop (cdr items) (cons (cons (car items) 1) table)))))))
(define t (tally '(b a c a b a d)))
(write (sort t (lambda (x y) (string<? (symbol->string (car x)) (symbol->string (car y)))))) (newline)
(write (sort t (lambda (x y) (> (cdr x) (cdr y))))) (newline)
(write (tally '())) (newline)
(write (tally (string->list "mississippi"))) (newline)
