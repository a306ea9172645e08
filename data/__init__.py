"""Datasets: where they come from (`sources`), how they are split and written once into
`data/<name>/{train,val,test}/` (`prepare`), and how training reads them (`pipeline`)."""
