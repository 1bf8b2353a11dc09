;; Included by the 4.1 include-ci case: every identifier here is folded to lower case.
(DEFINE INCLUDED-CI 'HELLO)
(Define (Included-Twice X) (LIST X X))
