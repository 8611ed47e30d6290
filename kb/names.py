"""Common personal names in Denmark: the first names and surnames most often seen in Danmarks
Statistik's name statistics (navne.dst.dk), plus frequent names among newer Danes. Used only to mask
names that practitioners type into the chat; not a register of anyone."""
from __future__ import annotations

FIRST_NAMES = frozenset("""
Aase Agnes Aisha Alberte Alma Amalie Amina Anja Anna Anne Annette Annie Astrid Bente Birgitte Birthe Bodil
Camilla Caroline Cecilie Charlotte Christina Christine Clara Dorte Dorthe Elisabeth Ella Else Emilie Emma
Eva Fatima Freja Frida Gerda Gitte Grethe Hanna Hanne Heidi Helle Ida Inge Inger Ingrid Isabella Jane
Janne Jette Johanne Josefine Julie Jytte Kamilla Karen Karin Katrine Kirsten Kristina Laura Leila Lena
Lene Line Lisbeth Lise Liva Lone Louise Maja Malene Margrethe Maria Mariam Marianne Marie Mathilde Merete
Mette Mia Mille Mona Naja Nanna Nina Olivia Pernille Pia Rikke Ruth Sandra Sanne Sara Sarah Signe Sofie
Solveig Stine Susanne Tanja Tina Tove Trine Ulla Vibeke Victoria Winnie Yvonne Zainab Sofia Ellen Esther
Hannah Lærke Rosa Silje Vigga Karoline Benedikte Ditte Marlene Rebekka Randi Lotte Jeanette Dorthea
Ahmed Aksel Alexander Alfred Ali Allan Anders Andreas Anton Arne August Benjamin Benny Bent Bjarne Bo Brian
Carl Carsten Christian Claus Daniel Dennis Elias Emil Erik Erling Felix Finn Flemming Frederik Gert Hans
Hassan Henrik Hussein Ib Ibrahim Jacob Jakob Jan Jens Jesper Jimmi John Johannes Jonas Jørgen Jørn Kaj Karl
Kasper Keld Kenneth Kim Knud Kristian Kristoffer Kurt Lars Lasse Leif Lucas Magnus Mads Malthe Martin
Mathias Michael Mikkel Mogens Mohamed Mohammed Morten Mustafa Niels Nikolaj Noah Omar Oliver Oscar Ove
Palle Per Peter Philip Poul Preben Rasmus René Rune Sebastian Simon Steen Svend Søren Thomas Tobias Tommy
Torben Uffe Ulrik Valdemar Victor Villads William Yusuf Jesper Troels Thor Viggo Aage Holger Max Otto
""".split())

SURNAMES = frozenset("""
Nielsen Jensen Hansen Pedersen Andersen Christensen Larsen Sørensen Rasmussen Jørgensen Petersen Madsen
Kristensen Olsen Thomsen Christiansen Poulsen Johansen Møller Mortensen Knudsen Jakobsen Jacobsen Mikkelsen
Olesen Frederiksen Laursen Henriksen Lund Schmidt Eriksen Holm Kristiansen Clausen Simonsen Svendsen
Andreasen Iversen Jeppesen Mogensen Jespersen Nissen Lauridsen Frandsen Østergaard Jepsen Kjær Carlsen
Vestergaard Jessen Nørgaard Dahl Christoffersen Skov Søndergaard Bertelsen Bruun Lassen Bach Gregersen
Friis Johnsen Steffensen Kjeldsen Bech Krogh Lauritsen Danielsen Mathiesen Andresen Brandt Winther Toft
Ravn Dam Mathiasen Berg Nygaard Koch Thygesen Overgaard Bak Mølgaard Thorsen Kirkegaard Ibsen Pallesen
Villadsen Holst Damgaard Sommer Juhl Kofoed Hedegaard Dalsgaard Vinther Bang Khan Hussain Yilmaz Demir
""".split())
