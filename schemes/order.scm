;; order.scm -- the order lifecycle, as a durable flow carrying only the order id.
;; reserve -> payment (waits for the webhook) -> fulfil; the host services each request.
(defflow order-lifecycle (lambda (oid) (begin (request (quote reserve) oid) (request (quote payment) oid) (request (quote fulfil) oid))))
