;; records in collections: sorting, filtering, updating
(define-record-type employee (make-employee name dept salary) employee?
  (name employee-name) (dept employee-dept) (salary employee-salary set-employee-salary!))
(define staff (list (make-employee "ann" 'eng 120) (make-employee "bob" 'ops 90)
                    (make-employee "cy" 'eng 100) (make-employee "di" 'ops 95)))
(write (map employee-name (sort staff (lambda (a b) (< (employee-salary a) (employee-salary b)))))) (newline)
(write (map employee-name (filter (lambda (e) (eq? (employee-dept e) 'eng)) staff))) (newline)
(for-each (lambda (e) (set-employee-salary! e (+ (employee-salary e) 10))) staff)
(write (map employee-salary staff)) (newline)
(write (apply + (map employee-salary staff))) (newline)
