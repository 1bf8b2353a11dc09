;; constructor with fewer fields than the record, fields without modifiers
(define-record-type <account>
  (open-account owner)
  account?
  (owner account-owner)
  (balance account-balance set-account-balance!))
(define a (open-account "ada"))
(set-account-balance! a 100)
(write (list (account-owner a) (account-balance a))) (newline)
(define-record-type <node>
  (make-node value next)
  node?
  (value node-value)
  (next node-next set-node-next!))
(define (list->nodes l) (if (null? l) '() (make-node (car l) (list->nodes (cdr l)))))
(define (nodes->list n) (if (null? n) '() (cons (node-value n) (nodes->list (node-next n)))))
(define chain (list->nodes '(1 2 3)))
(write (nodes->list chain)) (newline)
(set-node-next! (node-next chain) '())
(write (nodes->list chain)) (newline)
