"""Other libraries' files, read without their code: restricted pickles, torch
archives, and the policies of the libraries RL researchers train with."""
