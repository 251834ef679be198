# floodgate's shared code for its Ansible modules. Runs on target hosts: standard library only.
