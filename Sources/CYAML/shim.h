// libyaml (Debian: libyaml-dev to build, libyaml-0-2 at run time): the YAML 1.1 parser PyYAML and Yams are built on.
#include <yaml.h>
