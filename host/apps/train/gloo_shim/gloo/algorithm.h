// See ../README.md: nothing of this header is used through ProcessGroupGloo.hpp.
#pragma once
