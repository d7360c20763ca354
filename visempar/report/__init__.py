"""Reports that show graphs: drawings (`draw`) and the evaluation page (`html`)."""
