;; order.scm -- the order lifecycle, as a durable flow carrying only the order id.
;; reserve -> payment (waits for the webhook) -> fulfil; the host services each request.
(defflow order-lifecycle (lambda (oid) (begin (request (quote reserve) oid) (request (quote payment) oid) (request (quote fulfil) oid))))

;; shop-order -- the lifecycle commerce.Shop runs: the same three steps, with stock,
;; a payment deadline and cancellation; whenever the order does not end fulfilled,
;; the stock it reserved goes back.
;;
;;   reserve -> out-of-stock                           nothing reserved: done
;;           -> payment, within `window` seconds       (#f: no deadline)
;;                paid          -> fulfil             => fulfilled
;;                deadline      -> release            => expired
;;                cancellation  -> release            => cancelled
;;
;; The shop serves reserve, fulfil and release on the spot, each one ledger record,
;; and answers payment when the webhook comes. It cancels an order by answering the
;; request the order waits on with a cancellation (a table whose "record" is
;; "cancel"): `ask` raises it, and the guard in `holding-reservation` turns it into
;; the release -- the one place where stock goes back. `flowscheme flows cancel
;; --unwind` raises the runtime's flow-cancellation at the request: the same guard.

(define (answer-record answer)                ; "reserved", "paid", "cancel", ... or #f
  (and (hash-table? answer) (hash-table-ref/default answer "record" #f)))

(define (cancellation? answer)                ; the shop's, or `flows cancel --unwind`'s
  (or (flow-cancellation? answer) (equal? (answer-record answer) "cancel")))

;; (ask kind oid [seconds]): a request, with a deadline when seconds is a number;
;; a cancellation as its answer is raised rather than returned.
(define (ask kind oid . seconds)
  (let ((answer (if (and (pair? seconds) (car seconds))
                    (request/timeout kind oid (car seconds))
                    (request kind oid))))
    (if (cancellation? answer) (raise answer) answer)))

;; Run (body) while the order holds its reservation. Unless body ends 'fulfilled
;; -- the payment timed out, or a cancellation was raised anywhere in it -- the
;; reservation is released.
(define (holding-reservation oid body)
  (let ((outcome (guard (c ((cancellation? c) 'cancelled)) (body))))
    (unless (eq? outcome 'fulfilled)
      (request 'release (list oid outcome)))
    outcome))

(defflow shop-order
  (lambda (oid window)
    (if (equal? (answer-record (request 'reserve oid)) "out-of-stock")
        'out-of-stock
        (holding-reservation oid
          (lambda ()
            (if (timeout? (ask 'payment oid window))
                'expired
                (begin (ask 'fulfil oid)
                       'fulfilled)))))))
