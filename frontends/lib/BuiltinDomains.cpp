//===- BuiltinDomains.cpp - the frontends compiled into the tools ---------===//
#include "sbpf/Frontend/Domain.h"
#include "sbpf/AppNet/AppNetDomain.h"

namespace sbpf {

std::vector<std::unique_ptr<Domain>> createBuiltinDomains() {
  std::vector<std::unique_ptr<Domain>> domains;
  domains.push_back(appnet::createAppNetDomain());
  return domains;
}

const Domain *findDomainForFile(const std::vector<std::unique_ptr<Domain>> &domains,
                                llvm::StringRef path) {
  for (const auto &domain : domains)
    for (const std::string &ext : domain->fileExtensions())
      if (path.ends_with(ext))
        return domain.get();
  return nullptr;
}

} // namespace sbpf
